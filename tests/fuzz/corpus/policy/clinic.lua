-- Policy for the clinic_visits data set (schema.lua): who may query it,
-- for what, under which privacy mode and budget, and at what price.
-- Health data at classification level 3, so the settings are stricter
-- than the DESIGN.md example.
return {
  -- Buyers get noisy aggregates only (differential privacy).
  mode = "dp",
  -- Per job, and the lifetime total per buyer and for the data set.
  epsilon = { per_job = 0.5, total = 4.0 },
  -- Well below 1 / (number of patients).
  delta = 1e-7,
  -- Visits counted per patient (clinic-gen: 1-8, 95% have at most 5).
  max_rows_per_unit = 5,
  -- threshold and export modes: smallest group of distinct patients.
  k = 10,
  -- export mode: distinct diagnoses per group (17 values declared).
  l = 3,
  -- export mode: at most 2% of rows suppressed to reach k and l.
  suppression = 0.02,
  -- Buyers allowed to run jobs.
  buyers = { "acme-insurance", "cityhealth-research" },
  -- Purposes a job must declare one of.
  purposes = { "actuarial research", "chronic disease surveillance" },
  -- Per-job caps on the sandboxed worker.
  limits = { cpu_ms = 10000, memory_mb = 512, wall_ms = 30000,
             output_kb = 64 },
  -- No desensitized copies leave the provider.
  export = false,
  -- The policy stops admitting jobs after this date.
  expires = "2027-12-31",
  -- Charged per job, plus per unit of epsilon spent.
  price = { per_job = 20, per_epsilon = 200 },
}
