"""The campaign pages (hq): the list with a form to record one, and one campaign's lift with
forms to end it early or delete it.

Same conventions as dashboard.pages: a session is needed, errors are HTML pages for browsers,
every form carries the session's CSRF token and must come from this origin.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from dashboard import auth, campaign_charts, campaign_lift, campaigns, repository
from dashboard.api.deps import Conn
from dashboard.charts import figure_json
from dashboard.pages import PageRoute, PageUser, check_csrf, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def page_hq(user: PageUser) -> auth.Principal:
    if user.role != "hq":
        raise HTTPException(403, f"user {user.name!r} is a {user.role}; campaigns are for the hq role")
    return user


PageHq = Annotated[auth.Principal, Depends(page_hq)]


def _list_page(request: Request, user, conn, status_code: int = 200, error: str | None = None, form=None):
    return render(
        request,
        "campaigns.html",
        user,
        status_code=status_code,
        active="campaigns",
        nav_store=None,
        campaigns=campaigns.all_campaigns(conn),
        stores=repository.list_stores(conn),
        channels=campaigns.Channel.__args__,
        error=error,
        form=form or {},
    )


@router.get("/campaigns", name="campaigns_page")
def campaigns_page(request: Request, user: PageHq, conn: Conn):
    return _list_page(request, user, conn)


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'campaign'}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )


@router.post("/campaigns", name="campaign_create")
def campaign_create(
    request: Request,
    user: PageHq,
    conn: Conn,
    csrf_token: Annotated[str, Form()],
    name: Annotated[str, Form()],
    channel: Annotated[str, Form()],
    start: Annotated[str, Form()],
    end: Annotated[str, Form()],
    treated: Annotated[list[str], Form()] = (),
    control: Annotated[list[str], Form()] = (),
    zones: Annotated[str, Form()] = "",
    pre_days: Annotated[int, Form()] = campaigns.DEFAULT_PRE_DAYS,
):
    check_csrf(request, csrf_token)
    form = dict(
        name=name, channel=channel, start=start, end=end, treated=treated, control=control, zones=zones
    )
    try:
        record = campaigns.CampaignIn(
            name=name,
            channel=channel,
            start=start,
            end=end,
            treated=list(treated),
            control=list(control),
            promoted_zones=[z.strip() for z in zones.split(",") if z.strip()],
            pre_days=pre_days,
        )
        created = campaigns.create(conn, record)
    except ValidationError as exc:
        return _list_page(request, user, conn, 422, _errors(exc), form)
    except campaigns.CampaignError as exc:
        return _list_page(request, user, conn, 422, str(exc), form)
    conn.commit()
    return RedirectResponse(request.url_for("campaign_page", campaign_id=created.id).path, status_code=303)


def _daily_points(result: campaign_lift.CampaignLift) -> list[dict]:
    return [
        dict(
            day=d.day,
            observed=d.treated_visitors,
            counterfactual=d.counterfactual_visitors,
            simulated=d.simulated,
        )
        for d in result.daily
    ]


@router.get("/campaigns/{campaign_id}", name="campaign_page")
def campaign_page(request: Request, user: PageHq, conn: Conn, campaign_id: int):
    return _campaign_page(request, user, conn, campaign_id)


@router.post("/campaigns/{campaign_id}/end", name="campaign_end")
def campaign_end(
    request: Request,
    user: PageHq,
    conn: Conn,
    campaign_id: int,
    csrf_token: Annotated[str, Form()],
    end: Annotated[str, Form()],
):
    check_csrf(request, csrf_token)
    try:
        campaigns.set_end(conn, campaign_id, campaigns.CampaignEnd(end=end).end)
    except repository.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ValidationError as exc:
        return _campaign_page(request, user, conn, campaign_id, 422, _errors(exc))
    except campaigns.CampaignError as exc:
        return _campaign_page(request, user, conn, campaign_id, 422, str(exc))
    conn.commit()
    return RedirectResponse(request.url_for("campaign_page", campaign_id=campaign_id).path, status_code=303)


@router.post("/campaigns/{campaign_id}/delete", name="campaign_delete")
def campaign_delete(
    request: Request, user: PageHq, conn: Conn, campaign_id: int, csrf_token: Annotated[str, Form()]
):
    check_csrf(request, csrf_token)
    try:
        campaigns.remove(conn, campaign_id)
    except repository.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    conn.commit()
    return RedirectResponse(request.url_for("campaigns_page").path, status_code=303)


def _campaign_page(
    request: Request, user, conn, campaign_id: int, status_code: int = 200, error: str | None = None
):
    try:
        result = campaign_lift.campaign_lift(conn, campaign_id)
    except repository.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    c = result.campaign
    figure = campaign_charts.counterfactual_lines(_daily_points(result), c.name, c.start, c.end, "people in")
    names = {s.id: s.name for s in repository.list_stores(conn, set(c.treated + c.control))}
    return render(
        request,
        "campaign.html",
        user,
        status_code=status_code,
        error=error,
        active="campaigns",
        nav_store=None,
        result=result,
        campaign=c,
        names=names,
        days=(c.end - c.start).days + 1,
        pre_first=c.first_day,
        pre_last=c.start - timedelta(days=1),
        simulated_days=[d.day for d in result.daily if d.simulated],
        figure=figure_json(figure),
        outcomes=[o for o in (result.zone_entries, result.conversion) if o is not None],
    )
