"""The caller's webhooks (CONTRACT 5.4): register one, list them, delete one."""

from __future__ import annotations

from fastapi import APIRouter

from quantrun.app import webhooks
from quantrun.clock import utcnow
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.responses import NO_CONTENT, errors, over_quota
from quantrun_api.schemas import CreateWebhook, NewWebhookOut, WebhookOut

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

_ERRORS = errors(401)


@router.post(
    "",
    status_code=201,
    response_model=NewWebhookOut,
    summary="Register a URL told when your jobs end (its secret shown once)",
    responses=errors(401, 422, over_quota("webhooks")),
)
def post_webhook(body: CreateWebhook, user: CurrentUser, container: ContainerDep) -> NewWebhookOut:
    new = webhooks.register(
        store=container.webhooks,
        transport=container.webhook_transport,
        user=user,
        url=body.url,
        events=list(body.events),
        policy=container.webhook_policy,
        now=utcnow(),
        most=container.settings.limits.max_webhooks,
    )
    return NewWebhookOut(
        **WebhookOut.from_webhook(new.webhook).model_dump(), secret=new.webhook.secret
    )


@router.get("", response_model=list[WebhookOut], summary="Your webhooks", responses=_ERRORS)
def get_webhooks(user: CurrentUser, container: ContainerDep) -> list[WebhookOut]:
    return [WebhookOut.from_webhook(w) for w in container.webhooks.for_user(user.id)]


@router.delete(
    "/{webhook_id}",
    **NO_CONTENT,
    summary="Delete one of your webhooks (no delivery is made for it after)",
    responses=errors(401, 404),
)
def delete_webhook(webhook_id: str, user: CurrentUser, container: ContainerDep) -> None:
    webhooks.delete(store=container.webhooks, user=user, webhook_id=webhook_id, now=utcnow())
