-- An export policy for clinic_visits: a desensitized copy for AI teams,
-- k-anonymous over the quasi-identifiers (sex, birth date, postal code,
-- visit date) and distinct l-diverse in the diagnosis, with at most 2% of
-- the records suppressed. The level-3 diagnosis column raises k to 20.
return {
  mode = "export",
  k = 10,
  l = 3, l_kind = "distinct",
  suppression = 0.02,
  export = true,
}
