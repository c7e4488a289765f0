# Time R survey's svyby(svymean) on a slice written by bench_analysis.py.
# Usage: Rscript r_svyby.R SLICE.csv OUT.csv   (prints the elapsed seconds last)
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
options(survey.lonely.psu = "fail")
elapsed <- system.time({
  dsgn <- svydesign(ids = ~1, strata = ~stratum, weights = ~w, fpc = ~N, data = d)
  r <- svyby(~q0, ~unit, dsgn, svymean, na.rm = TRUE)
})[["elapsed"]]
write.csv(data.frame(unit = r$unit, estimate = coef(r), se = SE(r)), args[2], row.names = FALSE)
cat(elapsed, "\n")
