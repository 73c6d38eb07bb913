-- For mock data: look at rows while developing a job (row access and
-- print exist only with mode "none" or on mock data), then return the
-- aggregations the real run will release.
local v = veil.dataset()
local n = 0
for r in v:rows() do
  if n < 3 then print(r.patient_id, r.sex, r.diagnosis, r.cost) end
  n = n + 1
end
print("rows", n)
local long_stay = v:filter(function(r) return r.cost > 1000 end)
return {
  expensive = long_stay:count(),
  by_sex = long_stay:group_by("sex"):mean("cost", 0, 50000),
}
