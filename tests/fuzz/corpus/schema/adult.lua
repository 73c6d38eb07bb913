-- The UCI Adult census extract shipped in ../shared/data/adult, as the
-- anonymization literature uses it (Flash, ARX): all nine columns are
-- quasi-identifiers, each generalized by its shipped hierarchy file.
-- See schema_sensitive.lua for the variant in which occupation and
-- salary-class are sensitive attributes (for l-diversity / t-closeness).
--
-- The file has no person identifier: every row is a different person,
-- which unit = "@row" says.
local H = "../../../shared/data/adult/adult_hierarchy_"

return {
  name = "adult",
  description = "UCI Adult (1994 US census), 30,162 records, 9 columns",
  unit = "@row",
  csv = { delimiter = ";" },
  columns = {
    { name = "sex", type = "category", role = "quasi",
      values = { "Male", "Female" }, hierarchy = { file = H .. "sex.csv" } },
    { name = "age", type = "int", role = "quasi", range = { 17, 90 },
      hierarchy = { file = H .. "age.csv" } },
    { name = "race", type = "category", role = "quasi",
      hierarchy = { file = H .. "race.csv" } },
    { name = "marital-status", type = "category", role = "quasi",
      hierarchy = { file = H .. "marital-status.csv" } },
    { name = "education", type = "category", role = "quasi",
      hierarchy = { file = H .. "education.csv" } },
    { name = "native-country", type = "category", role = "quasi",
      hierarchy = { file = H .. "native-country.csv" } },
    { name = "workclass", type = "category", role = "quasi",
      hierarchy = { file = H .. "workclass.csv" } },
    { name = "occupation", type = "category", role = "quasi",
      hierarchy = { file = H .. "occupation.csv" } },
    { name = "salary-class", type = "category", role = "quasi",
      values = { "<=50K", ">50K" },
      hierarchy = { file = H .. "salary-class.csv" } },
  },
}
