"""``fuelwatch cloud ingest``, a fresh process: stores what is signed, and turns a bad
signature into a cloud-data warning.

On the old layout its streaming checks could not write to the registry (the users table was
never loaded in the process): it logged "streaming checker: registry unavailable" every 2 s
and never raised the warning; the tests ran ingest inside the test process, where some other
module had loaded the table.
"""

from __future__ import annotations

from fuelwatch.cloud.ingest.streaming.rules import SIGNATURE_FAILURE
from tests.processes.conftest import BOTH
from tests.processes.launch import Launch, Site, ingest_process
from tests.streaming.support import signed, station_client, tampered, topic_of, warnings
from tests.support.env import eventually


@BOTH
async def test_good_records_stored_and_a_bad_signature_raises_a_cloud_data_warning(
    launch: Launch, site: Site
) -> None:
    stack = site.stack
    station = stack.provision("PI01")
    topic = topic_of(stack, "PI01")
    async with ingest_process(launch, site) as ingest, station_client(stack, station) as client:
        for seq in (1, 2, 3):
            await client.publish(topic, signed(station, topic, seq))
        await client.publish(topic, tampered(station, topic, 4))
        await stack.wait_count("tank_inventory", 3)
        [w] = await eventually(lambda: warnings(stack, SIGNATURE_FAILURE), what="the warning")
        assert stack.count("tank_inventory") == 3  # the tampered one is not stored ...
        rejected = stack.query('SELECT * FROM "rejected"')  # ... but recorded, with why
        assert [r["reason"] for r in rejected] == ["bad_signature"]
    assert (w["station"], w["subject"], w["category"]) == ("PI01", "station", "cloud_data")
    assert w["evidence"]["by_reason"] == {"bad_signature": 1}
    assert w["evidence"]["gateways"] == [station.gateway_id]
    assert not ingest.logged("registry unavailable")
    assert not ingest.logged("cannot reach the registry")
