"""Campaigns (hq only): record, list, read, end early, remove, and the lift against control
stores."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Response

from dashboard import campaign_lift, campaigns
from dashboard.api.deps import Conn, Format, HqUser, csv_response, json_response

router = APIRouter(tags=["campaigns"])


@router.get("/campaigns", response_model=list[campaigns.Campaign])
def list_campaigns(user: HqUser, conn: Conn):
    """Every campaign, newest start first, with the control stores it is compared with."""
    return json_response(campaigns.all_campaigns(conn))


@router.post("/campaigns", response_model=campaigns.Campaign, status_code=201)
def create_campaign(body: campaigns.CampaignIn, user: HqUser, conn: Conn) -> campaigns.Campaign:
    """Record a campaign. Leave `control` empty for the default controls (stores sharing a
    region or tag with a treated store, not treated by an overlapping campaign)."""
    try:
        created = campaigns.create(conn, body)
    except campaigns.CampaignError as exc:
        raise HTTPException(422, [dict(loc=["body", exc.field], msg=str(exc), type="value_error")]) from None
    conn.commit()
    return created


@router.get("/campaigns/{campaign_id}", response_model=campaigns.Campaign)
def get_campaign(campaign_id: int, user: HqUser, conn: Conn) -> campaigns.Campaign:
    return campaigns.get(conn, campaign_id)


@router.patch("/campaigns/{campaign_id}", response_model=campaigns.Campaign)
def end_campaign(
    campaign_id: int, body: campaigns.CampaignEnd, user: HqUser, conn: Conn
) -> campaigns.Campaign:
    """Move the campaign's last day (`{"end": "YYYY-MM-DD"}`): end it early, or correct it;
    422 naming `end` when it is before the start."""
    try:
        changed = campaigns.set_end(conn, campaign_id, body.end)
    except campaigns.CampaignError as exc:
        raise HTTPException(422, [dict(loc=["body", exc.field], msg=str(exc), type="value_error")]) from None
    conn.commit()
    return changed


@router.delete("/campaigns/{campaign_id}", status_code=204)
def delete_campaign(campaign_id: int, user: HqUser, conn: Conn) -> Response:
    """Remove the campaign's record (no store data is touched)."""
    campaigns.remove(conn, campaign_id)
    conn.commit()
    return Response(status_code=204)


@router.get("/campaigns/{campaign_id}/lift", response_model=campaign_lift.CampaignLift)
def get_lift(
    campaign_id: int,
    user: HqUser,
    conn: Conn,
    format: Format = "json",
    table: Literal["daily", "per_store"] = "daily",
):
    """Footfall lift in percent with its 95 % interval, extra visitors, each treated store's
    lift, daily treated footfall against its counterfactual, the pre-trend placebo; the same
    for the promoted zones' entries and for conversion when there is data. Too little data:
    `enough_data` false and a `message`. With format=csv, `table` picks daily or per_store."""
    result = campaign_lift.campaign_lift(conn, campaign_id)
    if format == "csv":
        return csv_response(getattr(result, table), f"campaign-{campaign_id}-{table}.csv")
    return json_response(result)
