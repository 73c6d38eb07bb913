-- Export policy for the Adult benchmark: 5-anonymity with at most 4% of
-- the records suppressed (the reference case of the data's README, where
-- ARX finds levels 1,0,1,1,3,2,2,0,1 with 906 records suppressed).
return { mode = "export", k = 5, l = 1, suppression = 0.04, export = true }
