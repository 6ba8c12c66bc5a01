"""Account pages (issue 19): change my password; an admin resets a password
(shown once) and reads the sign-in audit log."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from monitor import accounts
from monitor.deps import MAX_ID, SessionDep
from monitor.models import User
from monitor.pages.auth import Posted, SignedIn
from monitor.pages.forms import save
from monitor.pages.render import Page, PageExit, PageRoute, redirect, refusal, render

router = APIRouter(route_class=PageRoute)


@router.get("/account")
async def account(page: SignedIn) -> Response:
    return render(page, "account.html", errors={}, saved=page.request.query_params.get("saved") == "1")


@router.post("/account/password")
async def change_password(page: Posted, session: SessionDep) -> Response:
    assert page.user is not None
    form = await page.request.form()
    fields = {name: str(form.get(name) or "") for name in ("current", "password", "repeat")}
    user = await session.get(User, page.user.id)
    assert user is not None

    async def action() -> None:
        await accounts.change_own(session, user, fields["current"], fields["password"], fields["repeat"])

    _, errors = await save(page, session, action)
    if errors is not None:
        return render(page, "account.html", status=422, errors=errors, saved=False)
    # The new password ended every session of the user, this one too: sign in again with it.
    return redirect(page, "/signin?changed=1")


def _admin(page: Page) -> None:
    if not page.may("manage"):
        raise PageExit(refusal(page, 403, "error.forbidden"))


@router.post("/admin/users/{user_id}/password")
async def reset_password(user_id: int, page: Posted, session: SessionDep) -> Response:
    """A new password for a user who forgot theirs, shown to the admin once."""
    _admin(page)
    user = await session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        return refusal(page, 404, "error.not_found")
    password = await accounts.reset(session, user.name)
    await session.commit()
    return render(page, "password_reset.html", name=user.name, password=password)


@router.get("/admin/signins")
async def sign_in_log(page: SignedIn, session: SessionDep) -> Response:
    _admin(page)
    name = page.request.query_params.get("name", "").strip()[:64]
    return render(page, "signins.html", events=await accounts.sign_ins(session, name), name=name,
                  shown=accounts.EVENTS_SHOWN)
