"""Department data (the "N" shared feeds): e-waybills, tax declarations, licences, metrology
and seal records, inspections. Imported whole or not at all; read by the rule engine."""
