-- Visits and costs of adult patients in the clinic data set
-- (examples/clinic): counts, bounded means and sums, a median, a
-- histogram, and groups. Only aggregates leave.
local v = veil.dataset()
local adults = v:where("birth_date", "<=", "2007-01-01")

return {
  visits      = v:count(),
  adult_visits = adults:count(),
  mean_cost   = adults:mean("cost", 0, 20000),
  total_cost  = v:sum("cost", 0, 20000),
  by_diag     = v:group_by("diagnosis"):count(),
  readmit_by_sex = v:where("readmitted", "=", true):group_by("sex"):count(),
  cost_hist   = v:histogram("cost", { 0, 100, 500, 2000, 10000, 100000 }),
  median_cost = v:quantile("cost", 0.5, 0, 20000),
}
