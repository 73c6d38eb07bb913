-- Schema of the synthetic clinic-visits CSV that clinic-gen writes
-- (clinic_gen.c): one row per visit, several visits per patient.
-- The patient is the privacy unit, so every guarantee counts patients,
-- not visits. Direct identifiers are dropped, masked or pseudonymized;
-- the quasi-identifiers are generalized for k-anonymity; diagnosis and
-- readmission are the sensitive attributes; notes are scrubbed of the
-- personal data doctors type into them.
return {
  name = "clinic_visits",
  description = "Synthetic Chinese clinic visits, 2023-2025 (clinic-gen)",
  unit = "patient_id",
  columns = {
    -- Identifiers. The unit is pseudonymized (keyed HMAC), never dropped.
    { name = "patient_id", type = "string", role = "identifier",
      action = "pseudonymize", length = 16, required = true },
    { name = "name", type = "string", role = "identifier", action = "drop" },
    -- 18-character resident ID number: carries birth date, sex and region.
    { name = "id_number", type = "string", role = "identifier",
      action = "drop" },
    -- 13812345678 -> 138****5678
    { name = "phone", type = "string", role = "identifier", action = "mask",
      mask = { prefix = 3, suffix = 4 } },
    { name = "email", type = "string", role = "identifier", action = "drop" },

    -- Quasi-identifiers, generalized for k-anonymity.
    { name = "sex", type = "category", role = "quasi",
      values = { "M", "F" }, required = true },
    -- Dates move by one random offset per patient, so intervals survive.
    { name = "birth_date", type = "date", role = "quasi", shift = "unit",
      range = { "1925-01-01", "2025-12-31" },
      hierarchy = { "month", "year", "decade" }, required = true },
    -- 6 digits: 510630 -> 51063* -> 5106** -> 510*** -> ******
    { name = "postal_code", type = "string", role = "quasi",
      hierarchy = { mask = { 1, 2, 3, 6 } }, required = true },
    { name = "visit_date", type = "date", role = "quasi", shift = "unit",
      range = { "2023-01-01", "2025-12-31" },
      hierarchy = { "month", "quarter", "year" }, required = true },

    -- Sensitive attributes, protected by l-diversity.
    -- ICD-10 categories; level 3 (health data) raises the policy minimums.
    { name = "diagnosis", type = "category", role = "sensitive",
      values = { "J45", "E11", "I10", "J18", "K29", "M54", "N39", "I25",
                 "E78", "F32", "J06", "K21", "M17", "I63", "C34", "O80",
                 "Z00" },
      level = 3, required = true },
    { name = "readmitted", type = "bool", role = "sensitive",
      required = true },

    -- Visit cost in CNY.
    { name = "cost", type = "float", role = "insensitive",
      range = { 0, 100000 }, required = true },

    -- Free-text doctor notes, often empty; phone and ID numbers, e-mail
    -- addresses, bank cards and IP addresses in them are scrubbed.
    { name = "notes", type = "text", role = "text", scrub = true },
  },
}
