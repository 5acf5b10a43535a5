"""Districts, stations, and the station's tanks (capacity, strapping table), dispensers and
nozzles. Reads need ``registry.read`` and are scoped; changes need ``registry.write``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import or_, select

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api.deps import Offset, Page, SessionDep, allow, not_found, visible_station
from fuelwatch.cloud.common.masking import mask_fields
from fuelwatch.cloud.store.db import paginate
from fuelwatch.cloud.store.models.registry import Dispenser, District, Nozzle, Station, Tank
from fuelwatch.cloud.store.registry import RegistryError
from fuelwatch.core.timeutil import utcnow
from fuelwatch.core.wire.accounts import validate_station_id

router = APIRouter(tags=["stations"])
Reader = Annotated[Principal, Depends(allow(Permission.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(allow(Permission.REGISTRY_WRITE))]
SEGMENT = r"^[A-Za-z0-9_-]{1,64}$"
PRODUCT = r"^[A-Za-z0-9#_+-]{1,16}$"
StationStatus = Literal["active", "suspended", "closed"]


class DistrictIn(BaseModel):
    id: str = Field(pattern=SEGMENT, examples=["binhai"])
    name: str = Field(default="", max_length=128, examples=["滨海新区"])


class DistrictOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str


class StationFields(BaseModel):
    name: str = Field(default="", max_length=128)
    licence_no: str = Field(default="", max_length=64)
    address: str = Field(default="", max_length=256)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    operator: str = Field(default="", max_length=128)
    contact_name: str = Field(default="", max_length=64)
    contact_phone: str = Field(default="", max_length=32, pattern=r"^[0-9+ -]*$")
    status: StationStatus = "active"


class StationIn(StationFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "BH0001",
                    "district": "binhai",
                    "name": "滨海第一加油站",
                    "licence_no": "津成品油零售0001",
                    "address": "天津市滨海新区新港路1号",
                    "latitude": 39.02,
                    "longitude": 117.71,
                    "operator": "滨海石化有限公司",
                    "contact_name": "王强",
                    "contact_phone": "13900001111",
                }
            ]
        }
    )

    id: str = Field(
        pattern=SEGMENT,
        description="station id; also its MQTT user name, so ids starting with `fuelwatch-` "
        "(the platform's accounts, any letter case) are refused",
    )
    district: str = Field(pattern=SEGMENT)

    @field_validator("id")
    @classmethod
    def _not_a_platform_account(cls, value: str) -> str:
        return validate_station_id(value)


class StationPatch(BaseModel):
    name: str | None = Field(default=None, max_length=128)
    licence_no: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=256)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    operator: str | None = Field(default=None, max_length=128)
    contact_name: str | None = Field(default=None, max_length=64)
    contact_phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+ -]*$")
    status: StationStatus | None = None


class StationOut(BaseModel):
    """As stored; contact fields masked for roles without ``sensitive.read``."""

    id: str
    district: str
    name: str
    licence_no: str
    address: str
    latitude: float | None
    longitude: float | None
    operator: str
    contact_name: str
    contact_phone: str
    status: str
    created_at: datetime
    updated_at: datetime | None
    gateways: list[str]


class TankIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "product": "92",
                    "capacity_l": 30000,
                    "strapping": [[0, 0], [500, 4100.5], [1000, 11200.0], [2500, 30000.0]],
                }
            ]
        }
    )

    product: str = Field(pattern=PRODUCT)
    capacity_l: float = Field(gt=0, le=1_000_000, description="declared capacity, litres")
    strapping: list[tuple[float, float]] = Field(
        default_factory=list,
        max_length=5000,
        description="strapping table: [height_mm, volume_l] pairs, both strictly increasing",
    )

    @field_validator("strapping")
    @classmethod
    def _increasing(cls, table: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for i, (h, v) in enumerate(table):
            if not (0 <= h <= 10_000 and 0 <= v <= 1_000_000):
                raise ValueError(f"row {i}: height 0-10000 mm and volume 0-1000000 L")
            if i and (h <= table[i - 1][0] or v <= table[i - 1][1]):
                raise ValueError(f"row {i}: height and volume must increase strictly")
        return table

    @model_validator(mode="after")
    def _fits_capacity(self) -> TankIn:
        if self.strapping and self.strapping[-1][1] > self.capacity_l * 1.05:
            raise ValueError(
                f"strapping table reaches {self.strapping[-1][1]:g} L, more than the declared "
                f"capacity {self.capacity_l:g} L allows (+5 %)"
            )
        return self


class TankOut(TankIn):
    tank_no: int
    station: str
    updated_at: datetime | None


class NozzleIn(BaseModel):
    nozzle_no: int = Field(ge=1, le=999, description="unique within the station")
    product: str = Field(pattern=PRODUCT)
    tank_no: int | None = Field(default=None, ge=1, le=99)


class DispenserIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "Tatsuno SUNNY",
                    "serial_no": "TS-2024-0091",
                    "tax_control_no": "TC120000091",
                    "nozzles": [
                        {"nozzle_no": 1, "product": "92", "tank_no": 1},
                        {"nozzle_no": 2, "product": "95", "tank_no": 2},
                    ],
                }
            ]
        }
    )

    model: str = Field(default="", max_length=64)
    serial_no: str = Field(default="", max_length=64)
    tax_control_no: str = Field(default="", max_length=64)
    nozzles: list[NozzleIn] = Field(default_factory=list, max_length=32)

    @field_validator("nozzles")
    @classmethod
    def _unique(cls, nozzles: list[NozzleIn]) -> list[NozzleIn]:
        numbers = [n.nozzle_no for n in nozzles]
        if len(set(numbers)) != len(numbers):
            raise ValueError("nozzle numbers must be unique")
        return nozzles


class DispenserOut(DispenserIn):
    dispenser_no: int
    station: str


def station_out(station: Station, principal: Principal) -> StationOut:
    data: dict[str, Any] = {
        "id": station.id,
        "district": station.district_id,
        "name": station.name,
        "licence_no": station.licence_no,
        "address": station.address,
        "latitude": station.latitude,
        "longitude": station.longitude,
        "operator": station.operator,
        "contact_name": station.contact_name,
        "contact_phone": station.contact_phone,
        "status": station.status,
        "created_at": station.created_at,
        "updated_at": station.updated_at,
        "gateways": sorted(g.id for g in station.gateways),
    }
    if not principal.can(Permission.SENSITIVE_READ):
        data = mask_fields(data, ("contact_name", "contact_phone"))
    return StationOut.model_validate(data)


def _tank_out(tank: Tank) -> TankOut:
    return TankOut(
        tank_no=tank.tank_no,
        station=tank.station_id,
        product=tank.product,
        capacity_l=tank.capacity_l,
        strapping=[(h, v) for h, v in tank.strapping],
        updated_at=tank.updated_at,
    )


def _dispenser_out(d: Dispenser) -> DispenserOut:
    return DispenserOut(
        dispenser_no=d.dispenser_no,
        station=d.station_id,
        model=d.model,
        serial_no=d.serial_no,
        tax_control_no=d.tax_control_no,
        nozzles=[
            NozzleIn(nozzle_no=n.nozzle_no, product=n.product, tank_no=n.tank_no) for n in d.nozzles
        ],
    )


# -- districts -------------------------------------------------------------------------------


@router.get("/districts", summary="Districts you can see")
def list_districts(session: SessionDep, principal: Reader) -> list[DistrictOut]:
    rows = session.scalars(select(District).order_by(District.id))
    if principal.station is not None:
        own = session.get(Station, principal.station)
        return [DistrictOut.model_validate(d) for d in rows if own and d.id == own.district_id]
    return [DistrictOut.model_validate(d) for d in rows if principal.sees_district(d.id)]


@router.post("/districts", status_code=status.HTTP_201_CREATED, summary="Add a district")
def add_district(session: SessionDep, principal: Writer, body: DistrictIn) -> DistrictOut:
    if principal.districts is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only city-wide accounts add districts")
    if session.get(District, body.id) is not None:
        raise RegistryError(f"district {body.id} exists")
    district = District(id=body.id, name=body.name or body.id, created_at=utcnow())
    session.add(district)
    session.commit()
    return DistrictOut.model_validate(district)


# -- stations --------------------------------------------------------------------------------


@router.get("/stations", summary="Stations you can see")
def list_stations(
    session: SessionDep,
    principal: Reader,
    district: Annotated[str | None, Query(max_length=64)] = None,
    station_status: Annotated[StationStatus | None, Query(alias="status")] = None,
    q: Annotated[str | None, Query(max_length=64, description="id or name contains")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Page[StationOut]:
    stmt = select(Station).where(principal.row_filter(Station.id, Station.district_id))
    if district is not None:
        stmt = stmt.where(Station.district_id == district)
    if station_status is not None:
        stmt = stmt.where(Station.status == station_status)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Station.id.like(like), Station.name.like(like)))
    rows, total = paginate(session, stmt, Station.id, limit=limit, offset=offset)
    items = [station_out(s, principal) for s in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post("/stations", status_code=status.HTTP_201_CREATED, summary="Register a station")
def add_station(session: SessionDep, principal: Writer, body: StationIn) -> StationOut:
    district = session.get(District, body.district)
    if district is None or not principal.sees_district(district.id):
        raise not_found(f"district {body.district}")
    if session.get(Station, body.id) is not None:
        raise RegistryError(f"station {body.id} exists")
    fields = body.model_dump(exclude={"id", "district"})
    fields["name"] = fields["name"] or body.id
    station = Station(id=body.id, district_id=district.id, created_at=utcnow(), **fields)
    session.add(station)
    session.commit()
    return station_out(station, principal)


@router.get("/stations/{station_id}", summary="One station")
def get_station(session: SessionDep, principal: Reader, station_id: str) -> StationOut:
    return station_out(visible_station(session, principal, station_id), principal)


@router.patch("/stations/{station_id}", summary="Change a station's details")
def patch_station(
    session: SessionDep, principal: Writer, station_id: str, body: StationPatch
) -> StationOut:
    station = visible_station(session, principal, station_id)
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is None and name not in ("latitude", "longitude"):
            continue
        setattr(station, name, value)
    station.updated_at = utcnow()
    session.commit()
    return station_out(station, principal)


# -- tanks -----------------------------------------------------------------------------------


@router.get("/stations/{station_id}/tanks", summary="A station's tanks")
def list_tanks(session: SessionDep, principal: Reader, station_id: str) -> list[TankOut]:
    return [_tank_out(t) for t in visible_station(session, principal, station_id).tanks]


@router.put("/stations/{station_id}/tanks/{tank_no}", summary="Declare or change a tank")
def put_tank(
    session: SessionDep,
    principal: Writer,
    station_id: str,
    tank_no: Annotated[int, Path(ge=1, le=99)],
    body: TankIn,
) -> TankOut:
    station = visible_station(session, principal, station_id)
    tank = next((t for t in station.tanks if t.tank_no == tank_no), None)
    if tank is None:
        tank = Tank(station_id=station.id, tank_no=tank_no, created_at=utcnow())
        station.tanks.append(tank)
    tank.product, tank.capacity_l = body.product, body.capacity_l
    tank.strapping = [[h, v] for h, v in body.strapping]
    tank.updated_at = utcnow()
    session.commit()
    return _tank_out(tank)


@router.delete(
    "/stations/{station_id}/tanks/{tank_no}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a tank",
)
def delete_tank(session: SessionDep, principal: Writer, station_id: str, tank_no: int) -> None:
    station = visible_station(session, principal, station_id)
    tank = next((t for t in station.tanks if t.tank_no == tank_no), None)
    if tank is None:
        raise not_found(f"tank {tank_no}")
    station.tanks.remove(tank)
    session.commit()


# -- dispensers ------------------------------------------------------------------------------


@router.get("/stations/{station_id}/dispensers", summary="A station's dispensers and nozzles")
def list_dispensers(session: SessionDep, principal: Reader, station_id: str) -> list[DispenserOut]:
    return [_dispenser_out(d) for d in visible_station(session, principal, station_id).dispensers]


@router.put(
    "/stations/{station_id}/dispensers/{dispenser_no}",
    summary="Declare or change a dispenser and its nozzles",
)
def put_dispenser(
    session: SessionDep,
    principal: Writer,
    station_id: str,
    dispenser_no: Annotated[int, Path(ge=1, le=999)],
    body: DispenserIn,
) -> DispenserOut:
    station = visible_station(session, principal, station_id)
    dispenser = next((d for d in station.dispensers if d.dispenser_no == dispenser_no), None)
    taken = {
        n.nozzle_no: d.dispenser_no
        for d in station.dispensers
        if d.dispenser_no != dispenser_no
        for n in d.nozzles
    }
    clash = [n.nozzle_no for n in body.nozzles if n.nozzle_no in taken]
    if clash:
        raise RegistryError(
            f"nozzle(s) {clash} already belong to dispenser {taken[clash[0]]} of this station"
        )
    if dispenser is None:
        dispenser = Dispenser(station_id=station.id, dispenser_no=dispenser_no, created_at=utcnow())
        station.dispensers.append(dispenser)
    dispenser.model, dispenser.serial_no = body.model, body.serial_no
    dispenser.tax_control_no = body.tax_control_no
    dispenser.nozzles.clear()
    session.flush()  # old nozzle rows go before new ones reuse their numbers
    dispenser.nozzles.extend(
        Nozzle(station_id=station.id, nozzle_no=n.nozzle_no, product=n.product, tank_no=n.tank_no)
        for n in body.nozzles
    )
    session.commit()
    return _dispenser_out(dispenser)


@router.delete(
    "/stations/{station_id}/dispensers/{dispenser_no}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a dispenser and its nozzles",
)
def delete_dispenser(
    session: SessionDep, principal: Writer, station_id: str, dispenser_no: int
) -> None:
    station = visible_station(session, principal, station_id)
    dispenser = next((d for d in station.dispensers if d.dispenser_no == dispenser_no), None)
    if dispenser is None:
        raise not_found(f"dispenser {dispenser_no}")
    station.dispensers.remove(dispenser)
    session.commit()
