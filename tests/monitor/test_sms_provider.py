"""SUNCLOCK_SMS_PROVIDER and the Alibaba Cloud settings (SPEC §15.1): which channel
carries SMS, and start-up errors that name the setting to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from alerts.aliyun_sms import AliyunSmsChannel
from alerts.aliyun_templates import SHIPPED_TEMPLATES
from alerts.outbox import OutboxChannel
from alerts.sms import TwilioSmsChannel
from monitor.cli import main
from monitor.runtime import channels_from
from monitor.settings import Settings
from rules import RulesInvalid

TWILIO = {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "token", "twilio_from": "+15005550006"}
ALIYUN = {"aliyun_access_key_id": "LTAI5tKey", "aliyun_access_key_secret": "secret",
          "aliyun_sms_sign_name": "斗门区应急管理局", "aliyun_sms_endpoint": "http://127.0.0.1:9000"}


def settings(**values: object) -> Settings:
    return Settings(database_url="sqlite:///unused.db", **values)


@pytest.mark.parametrize(("values", "expected"), [
    ({}, None),
    (TWILIO, "twilio"),
    (TWILIO | ALIYUN, "twilio"),  # Twilio stays the default where it was configured
    (TWILIO | ALIYUN | {"sms_provider": "aliyun"}, "aliyun"),
    (ALIYUN, "aliyun"),  # only Aliyun configured: no need to say so twice
    ({"sms_provider": "aliyun"}, None),  # chosen but not configured: the outbox, as without Twilio settings
    (ALIYUN | {"sms_provider": "twilio"}, None),
])
def test_the_provider_in_use(values, expected):
    assert settings(**values).sms_via == expected


async def test_channels_follow_the_provider():
    assert isinstance(channels_from(settings(**TWILIO))["sms"], TwilioSmsChannel)
    assert isinstance(channels_from(settings(**ALIYUN))["sms"], AliyunSmsChannel)
    assert isinstance(channels_from(settings(sms_provider="aliyun"))["sms"], OutboxChannel)
    assert channels_from(settings(**ALIYUN))["sms"].provider == "aliyun"


def error_of(**values: object) -> str:
    with pytest.raises(ValidationError) as raised:
        settings(**values)
    [error] = raised.value.errors()
    return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"


def test_incomplete_aliyun_settings_name_what_is_missing():
    message = error_of(sms_provider="aliyun", aliyun_access_key_id="LTAI5tKey")
    assert "SUNCLOCK_ALIYUN_ACCESS_KEY_SECRET and SUNCLOCK_ALIYUN_SMS_SIGN_NAME" in message
    assert "(SUNCLOCK_ALIYUN_ACCESS_KEY_ID is set)" in message
    # Without a provider chosen and without Twilio, half an Aliyun configuration is a mistake too.
    assert "SUNCLOCK_ALIYUN_SMS_SIGN_NAME" in error_of(**{k: v for k, v in ALIYUN.items() if "sign" not in k})


@pytest.mark.parametrize("endpoint", ["127.0.0.1:9000", "ftp://127.0.0.1", "http://127.0.0.1:9000/sms",
                                      "http://127.0.0.1:99999", "http://"])
def test_a_bad_endpoint_is_refused_naming_the_setting(endpoint):
    message = error_of(**ALIYUN | {"aliyun_sms_endpoint": endpoint})
    assert message.startswith("aliyun_sms_endpoint: Value error,"), message


def test_other_bad_settings_are_refused():
    assert error_of(sms_provider="tencent").startswith("sms_provider: Input should be 'twilio' or 'aliyun'")
    assert "without its brackets" in error_of(**ALIYUN | {"aliyun_sms_sign_name": "【斗门区应急管理局】"})
    assert error_of(**ALIYUN | {"aliyun_sms_templates": "/nowhere/sms.yaml"}).startswith("aliyun_sms_templates:")


def test_a_bad_template_file_stops_start_up_naming_file_line_and_field(tmp_path: Path):
    bad = tmp_path / "sms.yaml"
    text = SHIPPED_TEMPLATES.read_text(encoding="utf-8")
    bad.write_text(text.replace("left: time_left", "left: time_lef"), encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "left: time_left" in row)
    with pytest.raises(RulesInvalid) as raised:
        channels_from(settings(**ALIYUN | {"aliyun_sms_templates": bad}))
    assert str(raised.value.problems[0]).startswith(f"{bad}:{line}: templates[0].params.left.fact: Input should be")


def run_cli(*args: str, **env: str):
    return CliRunner().invoke(main, list(args), env={"SUNCLOCK_DATABASE_URL": "sqlite:///unused.db", **env},
                              catch_exceptions=False)


def test_rules_check_validates_the_sms_template_file(tmp_path: Path):
    result = run_cli("rules", "check")
    assert result.exit_code == 0, result.output
    assert "ok  aliyun_templates.yaml: 8 Alibaba Cloud SMS templates" in result.output

    bad = tmp_path / "sms.yaml"
    bad.write_text(SHIPPED_TEMPLATES.read_text(encoding="utf-8").replace("step: overdue", "step: overdu"),
                   encoding="utf-8")
    result = run_cli("rules", "check", SUNCLOCK_ALIYUN_SMS_TEMPLATES=str(bad))
    assert result.exit_code == 2
    assert f"{bad}:" in result.output and ": templates[6].step: Input should be" in result.output


def test_the_command_line_names_a_bad_setting():
    result = run_cli("rules", "check", SUNCLOCK_SMS_PROVIDER="aliyun", SUNCLOCK_ALIYUN_ACCESS_KEY_ID="LTAI5tKey")
    assert result.exit_code == 2
    assert "SUNCLOCK_SMS_PROVIDER: Alibaba Cloud SMS needs SUNCLOCK_ALIYUN_ACCESS_KEY_SECRET" in result.output
    result = run_cli("rules", "check", SUNCLOCK_ALIYUN_SMS_ENDPOINT="dysmsapi.aliyuncs.com")
    assert result.exit_code == 2
    assert "SUNCLOCK_ALIYUN_SMS_ENDPOINT: must look like https://host[:port]" in result.output
