-- A threshold policy for clinic_visits: exact aggregates of groups with at
-- least k distinct patients; smaller groups are suppressed. Weaker than
-- differential privacy (policy.lua), as clean rooms use it; the level-3
-- diagnosis column raises k to 20 whatever is written here.
return {
  mode = "threshold",
  k = 20,
  max_rows_per_unit = 5,
  limits = { cpu_ms = 10000, memory_mb = 512, wall_ms = 30000,
             output_kb = 256 },
}
