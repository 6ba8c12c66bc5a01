"""Names for the codes in metric labels, as info series (value 1), so that alert
annotations and the Grafana board say "区应急管理局「发布权威信息」" instead of
"EMB「authoritative_release」". The labels of the metrics fixed in SPEC §7 stay
as they are; a query joins a name in with ``* on (obligation) group_left
(obligation_title) sunclock_obligation_info``, and an alert template looks it
up with ``query``, falling back to the code when the name is missing."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from monitor.models import DEFAULT_DISTRICT, Department, District, Incident, Obligation
from monitor.waivers import still_owed
from rules.schema import series_key


async def name_families(session: AsyncSession, rule_titles: Mapping[str, str]) -> list[GaugeMetricFamily]:
    obligations = GaugeMetricFamily("sunclock_obligation_info", "The title of each obligation key (value 1).",
                                    labels=["obligation", "obligation_title"])
    titles = dict(rule_titles)
    # An occurrence of a series (keep_publishing#3) is labelled by its series, as in the other metrics.
    for key, title in (await session.execute(select(Obligation.key, Obligation.title).distinct())).all():
        titles.setdefault(series_key(key), title)
    for key, title in sorted(titles.items()):
        obligations.add_metric([key, title], 1)
    departments = GaugeMetricFamily("sunclock_department_info", "The name of each department code (value 1).",
                                    labels=["department", "department_name", "district"])
    for code, name, district in (await session.execute(
            select(Department.code, Department.name, District.code)
            .outerjoin(District, District.id == Department.district_id).order_by(Department.code))).all():
        departments.add_metric([code, name, district or DEFAULT_DISTRICT], 1)
    incidents = GaugeMetricFamily("sunclock_incident_info", "The title of each incident with a duty still owed "
                                  "(the incidents of sunclock_deadline_remaining_seconds; value 1).",
                                  labels=["incident_id", "incident_title"])
    for incident_id, title in (await session.execute(
            select(Incident.id, Incident.title).join(Obligation, Obligation.incident_id == Incident.id)
            .where(still_owed()).distinct().order_by(Incident.id))).all():
        incidents.add_metric([str(incident_id), title], 1)
    return [obligations, departments, incidents]
