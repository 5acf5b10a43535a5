"""One simulated station: the parts composed on a discrete-event timeline.

Everything that happens is an event on one heap (customer arrival, nozzle lift, flow start
and stop, hang, gauge tick, tanker departure/arrival/unloading, POS push, daily stock,
injection boundaries). Between two events the tanks integrate their rates (``Tank.step``),
so continuous processes (flows, leaks, evaporation, temperature) are exact to the event
times. ``advance_to`` runs events up to a time; ``snapshot`` is the ``StationView`` protocol
servers read; ``drain`` hands over what was reported since the last call.

Random streams are separate per concern and seeded from the scenario seed, so a change in
one (say, more customers) does not reshuffle another (meter errors, waybills).
"""

from __future__ import annotations

import heapq
import random
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from typing import Any, Literal

from fuelwatch.sim.climate import Climate
from fuelwatch.sim.clock import SimClock, next_local_time
from fuelwatch.sim.customers import ArrivalProcess, DailyProfile, Demand, DemandSampler
from fuelwatch.sim.delivery import DeliveryPlanner, Unloading, Waybill
from fuelwatch.sim.dispenser import Fuelling, Nozzle
from fuelwatch.sim.events import (
    AlarmEvent,
    DeliveryEvent,
    NozzleEvent,
    SaleEvent,
    StationEvent,
    WaybillEvent,
)
from fuelwatch.sim.gauge import Gauge
from fuelwatch.sim.injections import Injections, Scheduled
from fuelwatch.sim.labels import Label, LabelBook
from fuelwatch.sim.pos import PosSystem
from fuelwatch.sim.scenario import Scenario
from fuelwatch.sim.scenario_faults import Leak, OffbookBypass, TotalizerJump, UnregisteredDelivery
from fuelwatch.sim.state import StationSnapshot
from fuelwatch.sim.strapping import HorizontalCylinder, StrappingTable
from fuelwatch.sim.tank import Tank

__all__ = ["Station"]

TICK_MS = 300_000  # gauge alarm checks and reorder decisions
FLOW_LPM = (30.0, 40.0)  # nozzle flow rate, L/min
AUTHORISE_S = (8.0, 40.0)  # lift -> flow starts (prepay, authorisation)
HANG_S = (4.0, 25.0)  # flow stops -> nozzle hung
TANKER_SETUP_S = (600.0, 1200.0)  # arrival -> unloading starts (grounding, sampling, hoses)
MAX_QUEUE = 6  # customers waiting per product before others drive on


class Station:
    def __init__(self, scenario: Scenario) -> None:
        sc = scenario
        self.scenario = sc
        self.clock = SimClock(sc.start_ms)
        self.climate = Climate(sc.climate, sc.utc_offset_s)
        self.labels = LabelBook()
        self.faults = Injections(sc, self.labels)
        self.events: list[StationEvent] = []
        self.waybills: list[Waybill] = []
        self.stats: Counter[str] = Counter()  # counts
        self.totals: dict[str, float] = defaultdict(float)  # litres and yuan
        self._queue: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self._snap: StationSnapshot | None = None
        self._sale_labels: dict[str, list[Label]] = {}  # order id -> labels it counts toward
        self._rng_service = self._rng("service")
        self._rng_bypass = self._rng("bypass")
        self._rng_tanker = self._rng("tanker")
        self._build_tanks()
        self._build_nozzles()
        self._build_customers()
        self.planner = DeliveryPlanner(
            sc.deliveries, station=sc.station.id, rng=self._rng("orders")
        )
        self._unloading: dict[int, list[Unloading]] = {n: [] for n in self.tanks}
        self._leaks: dict[int, dict[int, float]] = {n: {} for n in self.tanks}
        self._bypasses: dict[int, dict[int, float]] = {n: {} for n in self.tanks}
        self.pos = PosSystem({n: g.read(sc.start_ms).volume for n, g in self.gauges.items()})
        self._schedule_start()

    def _rng(self, name: str) -> random.Random:
        return random.Random(f"{self.scenario.seed}:{name}")

    # -- construction ----------------------------------------------------------------------

    def _build_tanks(self) -> None:
        sc = self.scenario
        ground = self.climate.ground(sc.start_ms)
        self.tanks: dict[int, Tank] = {}
        self.gauges: dict[int, Gauge] = {}
        for spec in sc.tanks:
            product = sc.products[spec.product]
            geometry = HorizontalCylinder(spec.diameter_mm, spec.length_mm, spec.head_depth_mm)
            water = geometry.volume(spec.water_mm)
            gross = spec.initial_fill * geometry.capacity
            tank = Tank(
                number=spec.tank,
                product=spec.product,
                geometry=geometry,
                beta=product.beta,
                v20=gross / (1 + product.beta * (ground - 20)),
                temperature=ground,
                water=water,
                evaporation_per_s=product.evaporation / 86_400,
                water_ingress_per_s=spec.water_ingress_litres_per_day / 86_400,
                stratification_fraction=sc.climate.stratification_fraction,
                probe_weight=sc.climate.probe_stratification_weight,
            )
            table = StrappingTable.from_geometry(geometry, sc.gauge.strapping_step_mm)
            declared = self.faults.declared.get(spec.tank)
            if declared is not None and declared[1].gauge_table == "declared":
                table = table.scaled(declared[1].declared_litres / table.capacity)
            self.tanks[spec.tank] = tank
            self.gauges[spec.tank] = Gauge(
                tank, product_code=product.tls_code, table=table, spec=sc.gauge, seed=sc.seed
            )

    def _build_nozzles(self) -> None:
        sc = self.scenario
        meters, totals = self._rng("meters"), self._rng("totalizers")
        self.nozzles: dict[int, Nozzle] = {}
        self.by_product: dict[str, list[Nozzle]] = {}
        for dispenser, spec in sc.nozzles():
            drawn = meters.uniform(-sc.meter_error_max, sc.meter_error_max)
            product = self.tanks[spec.tank].product
            nozzle = Nozzle(
                number=spec.nozzle,
                dispenser=dispenser,
                product=product,
                tank=spec.tank,
                meter_error=spec.meter_error if spec.meter_error is not None else drawn,
                unit_price=sc.products[product].price,
                volume_total=round(totals.uniform(1e5, 1e6), 2),
                amount_total=round(totals.uniform(1e6, 8e6), 2),
            )
            self.nozzles[spec.nozzle] = nozzle
            self.by_product.setdefault(product, []).append(nozzle)

    def _build_customers(self) -> None:
        sc = self.scenario
        spec = sc.customers
        mix = spec.product_mix or {p: float(len(n)) for p, n in self.by_product.items()}
        profile = DailyProfile(spec.daily_profile, spec.weekend_factor, sc.utc_offset_s)
        self.arrivals = ArrivalProcess(spec.sales_per_day, profile, self._rng("arrivals"))
        self.demand = DemandSampler(spec, dict(sc.products), mix, self._rng("demand"))
        # hidden sales draw from their own stream: a bypass does not change who else comes
        self._hidden_demand = DemandSampler(spec, dict(sc.products), mix, self._rng_bypass)
        self.waiting: dict[str, deque[Demand]] = {p: deque() for p in self.by_product}

    def _schedule_start(self) -> None:
        sc, t0 = self.scenario, self.scenario.start_ms
        self.at(self.arrivals.next_after(t0), self._customer)
        self.at(t0, self._tick)
        self.at(t0 + int(sc.feed.pos_push_interval.total_seconds() * 1000), self._pos_push)
        self.at(
            next_local_time(t0, sc.utc_offset_s, sc.feed.pos_inventory_hour * 60),
            self._pos_inventory,
        )
        for item in self.faults.scheduled("leak"):
            for start, end in item.periods:
                self.at(start, self._leak_starts, item)
                self.at(end, self._leak_stops, item)
        for item in self.faults.scheduled("offbook_bypass"):
            for period, (start, _) in enumerate(item.periods):
                self._next_hidden_sale(item, period, start)
        for index, spec in self.faults.one_off:
            if isinstance(spec, TotalizerJump):
                self.at(sc.at_ms(spec.at), self._totalizer_shift, index, spec)
            else:
                self.at(sc.at_ms(spec.at), self._unregistered_delivery, index, spec)

    # -- the timeline ----------------------------------------------------------------------

    @property
    def now(self) -> int:
        return self.clock.now

    def at(self, t_ms: int, fn: Callable[..., None], *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (max(t_ms, self.clock.now), self._seq, fn, args))

    def advance_to(self, t_ms: int) -> None:
        """Run every event up to ``t_ms`` (inclusive) and integrate the tanks to it."""
        queue = self._queue
        while queue and queue[0][0] <= t_ms:
            when, _, fn, args = heapq.heappop(queue)
            self._integrate(when)
            fn(*args)
            self._snap = None
        self._integrate(t_ms)

    def _integrate(self, t_ms: int) -> None:
        now = self.clock.now
        if t_ms <= now:
            return
        ground = self.climate.ground((now + t_ms) // 2)
        dt = (t_ms - now) / 1000
        surface = self.climate.surface((now + t_ms) // 2)
        c = self.climate
        for tank in self.tanks.values():
            tank.step(
                dt,
                ground,
                c.tau_s,
                mix_tau_s=c.mix_tau_s,
                probe_tau_s=c.probe_tau_s,
                surface=surface,
            )
        self.clock.advance(t_ms)
        self._snap = None

    def drain(self) -> list[StationEvent]:
        events, self.events = self.events, []
        return events

    def offset(self, device: str) -> int:
        return self.faults.clock_offset(device, self.clock.now)

    # -- what the station looks like -------------------------------------------------------

    def snapshot(self) -> StationSnapshot:
        now = self.clock.now
        if self._snap is None:
            self._snap = StationSnapshot(
                now=now + self.offset("gauge"),
                tanks=[g.read(now) for g in self.gauges.values()],
                deliveries={n: list(g.deliveries) for n, g in self.gauges.items()},
                alarms=[a for g in self.gauges.values() for a in g.alarm_snapshots()],
                nozzles=[n.snapshot(now) for n in self.nozzles.values()],
                reachable=not self.faults.outage(now),
            )
        return self._snap

    # -- customers and sales ---------------------------------------------------------------

    def _customer(self) -> None:
        self._serve(self.demand.draw())
        self.at(self.arrivals.next_after(self.now), self._customer)

    def _serve(self, demand: Demand) -> None:
        free = [n for n in self.by_product[demand.product] if n.state == "idle"]
        if free:
            self._lift(self._rng_service.choice(free), demand)
        elif len(self.waiting[demand.product]) < MAX_QUEUE:
            self.waiting[demand.product].append(demand)
        else:
            self.stats["customers_drove_on"] += 1

    def _lift(self, nozzle: Nozzle, demand: Demand) -> None:
        now, rng = self.now, self._rng_service
        boost, boost_label = self.faults.boost(nozzle.number, now)
        override = self.faults.price(nozzle.product, now)
        price = override[0] if override else self.scenario.products[nozzle.product].price
        error = nozzle.error(boost)
        if demand.preset_amount is not None:
            amount_fen = round(demand.preset_amount * 100)
            registered_cl = max(round(demand.preset_amount / price * 100), 1)
        else:
            registered_cl = max(round(demand.litres * (1 + error) * 100), 1)
            amount_fen = round(registered_cl * price)
        true_litres = registered_cl / 100 / (1 + error)
        fuelling = Fuelling(
            order_id=f"{self.scenario.station.id}-{nozzle.number:02d}-{nozzle.seq + 1:06d}",
            lift=now,
            unit_price=price,
            registered_cl=registered_cl,
            amount_fen=amount_fen,
            paid_fen=amount_fen - round(registered_cl * demand.discount_per_litre),
            true_litres=true_litres,
            flow=rng.uniform(*FLOW_LPM) / 60,
            boost=boost,
            payment=demand.payment,
        )
        nozzle.lift(fuelling)
        labels = [lb for lb in (boost_label, override[1] if override else None) if lb]
        self._sale_labels[fuelling.order_id] = labels
        self._emit_nozzle(nozzle, "lift", None)
        self.at(now + int(rng.uniform(*AUTHORISE_S) * 1000), self._start_flow, nozzle)

    def _start_flow(self, nozzle: Nozzle) -> None:
        fuelling = nozzle.start_flow(self.now)
        duration_ms = max(int(fuelling.true_litres / fuelling.flow * 1000), 1)
        fuelling.flow = fuelling.true_litres / (duration_ms / 1000)  # exact litres per sale
        self.tanks[nozzle.tank].flows[nozzle.number] = fuelling.flow
        self.at(self.now + duration_ms, self._stop_flow, nozzle)

    def _stop_flow(self, nozzle: Nozzle) -> None:
        nozzle.stop_flow(self.now)
        del self.tanks[nozzle.tank].flows[nozzle.number]
        self.at(self.now + int(self._rng_service.uniform(*HANG_S) * 1000), self._hang, nozzle)

    def _hang(self, nozzle: Nozzle) -> None:
        now = self.now
        fuelling, txn = nozzle.hang(self.offset("dispenser"))
        self.events.append(SaleEvent(now, nozzle.number, nozzle.product, txn, fuelling.true_litres))
        self._emit_nozzle(nozzle, "hang", txn.volume)
        self.stats["sales"] += 1
        self.totals["sales_litres"] += txn.volume
        self.totals["sales_amount"] += txn.amount
        self.totals["true_litres"] += fuelling.true_litres
        for label in self._sale_labels.pop(txn.order_id, []):
            label.order_ids.append(txn.order_id)
            label.add("litres", txn.volume)
            label.add("amount", txn.amount)
            if label.kind == "over_registration":
                honest = fuelling.true_litres * (1 + nozzle.meter_error)
                label.add("excess_litres", txn.volume - honest)
        omitted = self.faults.omitted(nozzle.number, txn.order_id, now)
        if omitted is not None:
            omitted.order_ids.append(txn.order_id)
            omitted.add("litres", txn.volume)
            omitted.add("amount", txn.amount)
            self.stats["pos_omitted"] += 1
        else:
            self.pos.sale(
                ts=now + self.offset("pos"),
                txn=txn,
                nozzle=nozzle.number,
                tank=nozzle.tank,
                product=nozzle.product,
                payment=fuelling.payment,
            )
        waiting = self.waiting[nozzle.product]
        if waiting:
            self._lift(nozzle, waiting.popleft())

    def _emit_nozzle(
        self, nozzle: Nozzle, event: Literal["lift", "hang"], volume: float | None
    ) -> None:
        ts = self.now + self.offset("dispenser")
        self.events.append(NozzleEvent(self.now, ts, nozzle.number, nozzle.product, event, volume))

    # -- gauge ticks, alarms and reorders --------------------------------------------------

    def _tick(self) -> None:
        now = self.now
        gauge_clock = now + self.offset("gauge")
        for number, gauge in self.gauges.items():
            reading = gauge.read(now)
            for alarm_type, active in gauge.check_alarms(reading, gauge_clock):
                self.events.append(AlarmEvent(now, gauge_clock, number, alarm_type, active))
                self.stats["alarms_raised"] += int(active)
            if self.planner.wants(number, reading.volume, gauge.capacity):
                depart, arrive = self.planner.schedule(now, number)
                self.at(depart, self._tanker_departs, number, arrive)
        self.at(now + TICK_MS, self._tick)

    # -- deliveries ------------------------------------------------------------------------

    def _tanker_departs(self, tank: int, arrive: int) -> None:
        gauge = self.gauges[tank]
        litres = self.planner.volume_for(gauge.read(self.now).volume, gauge.capacity)
        if litres <= 0:
            self.planner.done(tank)
            return
        waybill = self.planner.waybill(
            product=self.tanks[tank].product, volume_20=litres, depart=self.now, arrive=arrive
        )
        self.waybills.append(waybill)
        self.events.append(WaybillEvent(self.now, waybill))
        setup = int(self._rng_tanker.uniform(*TANKER_SETUP_S) * 1000)
        self.at(arrive + setup, self._unload, tank, litres, waybill, None)

    def _unload(
        self, tank_no: int, litres: float, waybill: Waybill | None, injection: int | None
    ) -> None:
        now, tank = self.now, self.tanks[tank_no]
        if waybill is not None:
            change = self.faults.delivery_change(tank_no, now)
            if change is not None:
                injection = change[0]
                litres *= 1 + change[1].percent / 100
        temperature = (
            self.climate.ground(now)
            + self.scenario.deliveries.depot_temperature_offset
            + self._rng_tanker.gauss(0, 1.5)
        )
        duration = max(self.planner.unload_ms(litres * tank.expansion(temperature)), 1000)
        unloading = Unloading(tank_no, litres, temperature, now, now + duration, waybill, injection)
        self._unloading[tank_no].append(unloading)
        self._set_inflow(tank_no)
        self.gauges[tank_no].unloading_started(now, self.offset("gauge"))
        self.at(now + duration, self._unloaded, unloading)

    def _set_inflow(self, tank_no: int) -> None:
        tank, active = self.tanks[tank_no], self._unloading[tank_no]
        tank.inflow = sum(u.v20 / ((u.end - u.start) / 1000) for u in active)
        if active:
            tank.inflow_temperature = active[-1].temperature

    def _unloaded(self, u: Unloading) -> None:
        self._unloading[u.tank].remove(u)
        self._set_inflow(u.tank)
        self.stats["deliveries"] += 1
        if self.gauges[u.tank].unloading_ended():
            settle = int(self.scenario.gauge.settle_minutes * 60_000)
            self.at(self.now + settle, self._close_delivery, u.tank)
        if u.waybill is not None:
            self.planner.done(u.tank)
            self.pos.delivery(ts=self.now + self.offset("pos"), waybill=u.waybill, tank=u.tank)
        if u.injection is not None:
            spec = self.scenario.injections[u.injection]
            label = self.labels.add(self.faults.label(u.injection, spec, u.start, u.end))
            label.effect["litres_20"] = round(u.v20, 3)
            if u.waybill is not None:
                label.effect["waybill_id"] = u.waybill.waybill_id
                label.effect["waybill_litres_20"] = u.waybill.volume_20

    def _close_delivery(self, tank: int) -> None:
        delivery = self.gauges[tank].close_delivery(self.now, self.offset("gauge"))
        if delivery is not None:
            self.events.append(DeliveryEvent(self.now, self.tanks[tank].product, delivery))

    # -- the POS ---------------------------------------------------------------------------

    def _pos_push(self) -> None:
        self.events.extend(self.pos.push(self.now))
        interval = int(self.scenario.feed.pos_push_interval.total_seconds() * 1000)
        self.at(self.now + interval, self._pos_push)

    def flush_pos(self) -> None:
        """Push what the POS still holds (at the end of a run)."""
        self.events.extend(self.pos.push(self.now))

    def _pos_inventory(self) -> None:
        readings = [g.read(self.now) for g in self.gauges.values()]
        self.pos.inventory(ts=self.now + self.offset("pos"), readings=readings)
        self.at(self.now + 86_400_000, self._pos_inventory)

    # -- injections with their own timeline ------------------------------------------------

    def _leak_starts(self, item: Scheduled) -> None:
        spec = item.spec
        assert isinstance(spec, Leak)
        self._leaks[spec.tank][item.index] = spec.litres_per_hour / 3600
        self.tanks[spec.tank].leak = sum(self._leaks[spec.tank].values())

    def _leak_stops(self, item: Scheduled) -> None:
        spec = item.spec
        assert isinstance(spec, Leak)
        self._leaks[spec.tank].pop(item.index, None)
        self.tanks[spec.tank].leak = sum(self._leaks[spec.tank].values())
        period = item.period_at(self.now - 1)
        if period is not None:
            start, end = item.periods[period]
            item.labels[period].effect["litres"] = spec.litres_per_hour * (end - start) / 3.6e6

    def _next_hidden_sale(self, item: Scheduled, period: int, after: int) -> None:
        spec = item.spec
        assert isinstance(spec, OffbookBypass)
        t = after + int(self._rng_bypass.expovariate(spec.sales_per_day / 86_400_000))
        if t < item.periods[period][1]:
            self.at(t, self._hidden_sale, item, period)

    def _hidden_sale(self, item: Scheduled, period: int) -> None:
        spec = item.spec
        assert isinstance(spec, OffbookBypass)
        tank = self.tanks[spec.tank]
        litres = self._hidden_demand.draw(tank.product).litres
        flow = self._rng_bypass.uniform(*FLOW_LPM) / 60
        duration = max(int(litres / flow * 1000), 1)
        key = self._seq
        self._bypasses[spec.tank][key] = litres / (duration / 1000)
        tank.bypass = sum(self._bypasses[spec.tank].values())
        self.at(self.now + duration, self._hidden_sale_done, spec.tank, key)
        label = item.labels[period]
        label.effect.setdefault("first_ms", self.now)  # when the first litre was hidden
        label.add("sales", 1)
        label.add("litres", litres)
        self.stats["hidden_sales"] += 1
        self._next_hidden_sale(item, period, self.now)

    def _hidden_sale_done(self, tank: int, key: int) -> None:
        del self._bypasses[tank][key]
        self.tanks[tank].bypass = sum(self._bypasses[tank].values())

    def _totalizer_shift(self, index: int, spec: TotalizerJump) -> None:
        sign = -1 if spec.kind == "totalizer_rollback" else 1
        before, after = self.nozzles[spec.nozzle].shift_totalizer(sign * spec.litres)
        label = self.labels.add(self.faults.label(index, spec, self.now, self.now))
        label.effect.update(before=before, after=after)

    def _unregistered_delivery(self, index: int, spec: UnregisteredDelivery) -> None:
        self._unload(spec.tank, spec.litres, None, index)

    # -- results ---------------------------------------------------------------------------

    def registry(self) -> dict[str, object]:
        """The station as registered with the authorities (declared, not necessarily real)."""
        sc = self.scenario
        tanks = []
        for number, tank in self.tanks.items():
            declared = self.faults.declared.get(number)
            capacity = declared[1].declared_litres if declared else tank.geometry.capacity
            tanks.append({"tank": number, "product": tank.product, "capacity": round(capacity, 1)})
        return {
            "station": sc.station.id,
            "name": sc.station.name,
            "district": sc.station.district,
            "tanks": tanks,
            "nozzles": [
                {"nozzle": n.number, "dispenser": n.dispenser, "product": n.product, "tank": n.tank}
                for n in self.nozzles.values()
            ],
            "products": {
                code: {
                    "tls_code": p.tls_code,
                    "price": p.price,
                    "permitted": list(p.permitted),
                }
                for code, p in sc.products.items()
            },
        }
