-- The job API in one job (README, "The job API"): runs as shown on the
-- clinic data set (examples/clinic).
local v = veil.dataset()                       -- the granted, de-identified table
local adults = v:where("birth_date", "<=", "2007-01-01")   -- vectorized, in C
local pricey = v:filter(function(r) return r.cost > 1000 end)  -- a pure row function
local ratio = v:derive("per_year", function(r) return r.cost / 3 end)

return {
  visits     = v:count(),
  mean_cost  = adults:mean("cost", 0, 20000),           -- clamped to [0, 20000]
  by_diag    = adults:group_by("diagnosis"):count(),
  cost_sex   = pricey:group_by("sex"):mean("cost", 0, 50000),
  median     = v:quantile("cost", 0.5, 0, 20000),
  hist       = v:histogram("cost", { 0, 100, 500, 2000, 100000 }),
  ratio_sum  = ratio:sum("per_year", 0, 10000, { epsilon = 0.2 }),
}
