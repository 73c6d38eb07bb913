return {
  name = "clinic_visits",
  unit = "patient_id",
  columns = {
    { name = "patient_id", type = "string",   role = "identifier", action = "pseudonymize" },
    { name = "name",       type = "string",   role = "identifier", action = "drop" },
    { name = "phone",      type = "string",   role = "identifier", action = "mask", mask = { prefix = 3, suffix = 4 } },
    { name = "age",        type = "int",      role = "quasi", range = {0, 120}, hierarchy = { interval = {5, 10, 20} } },
    { name = "zip",        type = "string",   role = "quasi", hierarchy = { mask = {1, 2, 3, 5} } },
    { name = "visit_date", type = "date",     role = "quasi", shift = "unit", hierarchy = { "month", "year" } },
    { name = "diagnosis",  type = "category", role = "sensitive", values = { "J45", "E11", "I10" }, level = 3 },
    { name = "cost",       type = "float",    role = "insensitive", range = {0, 100000} },
    { name = "notes",      type = "text",     role = "text", scrub = true },
    { name = "sex",        type = "category", role = "quasi", values = { "M", "F" }, hierarchy = { rows = { {"M", "*"}, {"F", "*"} } } },
  },
  ignore = { "extra" },
  csv = { delimiter = "tab" },
}
