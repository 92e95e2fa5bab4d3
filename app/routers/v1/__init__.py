"""Version 1 of the public API."""

from fastapi import APIRouter

from app.routers.route import CrmRoute
from app.routers.v1 import api_keys, members, settings, workspace

router = APIRouter(prefix="/v1", route_class=CrmRoute)
for module in (workspace, members, api_keys, settings):
    router.include_router(module.router)
