-- The UCI Adult extract with seven quasi-identifiers and two sensitive
-- attributes, occupation and salary-class: the set-up for l-diversity and
-- t-closeness (an attacker who knows a person's demographics must not
-- learn their occupation or income class).
local H = "../../../shared/data/adult/adult_hierarchy_"

return {
  name = "adult-sensitive",
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
    { name = "occupation", type = "category", role = "sensitive",
      level = 2, hierarchy = { file = H .. "occupation.csv" } },
    { name = "salary-class", type = "category", role = "sensitive",
      level = 2, values = { "<=50K", ">50K" },
      hierarchy = { file = H .. "salary-class.csv" } },
  },
}
