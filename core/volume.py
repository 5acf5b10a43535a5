"""Standard volume: litres at 20 °C (GB/T 1885), from gross litres or another reference.

A console's "TC volume" is compensated to the reference it is configured with — 20 °C in
China, often 15 °C (ISO 91) or 60 °F (API) elsewhere — using the product's cubic expansion
coefficient β: ``V_ref = V_obs / (1 + β (T − T_ref))``. A 15 °C volume of gasoline is about
0.6 % smaller than the same product's 20 °C volume, more than the tolerance of most
reconciliation checks, so it must be converted, never taken as 20 °C.

β here is the usual retail approximation of the GB/T 1885 tables near 15–20 °C: gasoline
0.0012 /°C, diesel 0.00083 /°C; good to a few 0.01 % over the ±15 °C of buried tanks.
"""

from __future__ import annotations

__all__ = [
    "EXPANSION",
    "REFERENCES",
    "REFERENCE_C",
    "expansion_of",
    "reference_celsius",
    "to_20c",
]

REFERENCE_C = 20.0
#: reference names a device setting may use -> °C
REFERENCES: dict[str, float] = {"20C": 20.0, "15C": 15.0, "60F": (60.0 - 32.0) * 5.0 / 9.0}
EXPANSION = {"gasoline": 0.0012, "diesel": 0.00083}


def reference_celsius(name: str) -> float:
    try:
        return REFERENCES[name]
    except KeyError:
        raise ValueError(f"unknown reference {name!r} (known: {', '.join(REFERENCES)})") from None


def expansion_of(product: str) -> float:
    """β of a Chinese retail product code: diesel grades are 0, -10, -20, -35, 5 (the cold
    filter plugging point); gasoline grades 89, 92, 95, 98 (the octane number)."""
    try:
        grade = int(product)
    except ValueError:
        return EXPANSION["gasoline"]
    return EXPANSION["diesel"] if grade <= 10 else EXPANSION["gasoline"]


def to_20c(
    volume: float, temperature: float, expansion: float, *, reference: float | None = None
) -> float:
    """Litres at 20 °C of ``volume`` measured at ``temperature`` (°C): gross litres when
    ``reference`` is None, else litres already compensated to ``reference`` °C."""
    at_20 = 1 + expansion * (temperature - REFERENCE_C)
    if reference is None:
        return volume / at_20
    return volume * (1 + expansion * (temperature - reference)) / at_20
