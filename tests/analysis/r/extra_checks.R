# Extra cross-checks of analysis/ against R survey, beyond reference.R: clusters, totals,
# ratios, proportions, t intervals, census strata, calibrated and then subset designs,
# calibration of a domain, trimming.  Usage: Rscript extra_checks.R DATA.csv MARGINS.csv OUT.csv
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
m <- read.csv(args[2], stringsAsFactors = FALSE)
options(survey.lonely.psu = "fail")
for (q in paste0("q", 1:6)) d[[paste0(q, "_s")]] <- ifelse(d[[q]] == 9, NA, (d[[q]] - 1) / 4)
d$w <- d$N / d$n
d$female <- as.numeric(d$sex == "F")
# census of leaders in the first three units: fpc equal to the sample size
first_units <- sort(unique(d$unit))[1:3]
d$N2 <- ifelse(d$group == "leader" & d$unit %in% first_units, d$n, d$N)
d$w2 <- d$N2 / d$n
# two-stage-like layout: units are PSUs within groups, 60 units per group in the population
d$n_units <- ave(as.numeric(factor(d$unit)), d$group, FUN = function(u) length(unique(u)))
d$Nunits <- 60
sexm <- m[m$variable == "sex", ]; agem <- m[m$variable == "age", ]
pop_sex <- data.frame(sex = sexm$level, Freq = sexm$population)
pop_age <- data.frame(age = agem$level, Freq = agem$population)

rows <- list()
add <- function(case, key, est, se, ci = c(NA, NA)) {
  rows[[length(rows) + 1]] <<- data.frame(case = case, key = as.character(key), estimate = as.numeric(est),
                                         se = as.numeric(se), ci_low = as.numeric(ci[1]), ci_high = as.numeric(ci[2]))
}
add_stat <- function(case, est, df = Inf) {
  ci <- confint(est, df = df)
  for (i in seq_along(coef(est))) add(case, names(coef(est))[i], coef(est)[i], SE(est)[i], ci[i, ])
}
add_by <- function(case, r, df = Inf) {
  ci <- confint(r, df = df)
  keys <- r[[1]]
  for (i in seq_along(keys)) add(case, keys[i], coef(r)[i], SE(r)[i], ci[i, ])
}

fpc <- svydesign(ids = ~1, strata = ~stratum, weights = ~w, fpc = ~N, data = d)
cen <- svydesign(ids = ~1, strata = ~stratum, weights = ~w2, fpc = ~N2, data = d)
clu <- svydesign(ids = ~unit, strata = ~group, fpc = ~Nunits, weights = ~w, data = d, nest = TRUE)
cit <- subset(d, group == "citizen")
cd <- svydesign(ids = ~1, strata = ~stratum, weights = ~w, data = cit)
cdf <- svydesign(ids = ~1, strata = ~stratum, weights = ~w, fpc = ~N, data = cit)

add_by("t_ci_leader_q5_by_unit", svyby(~q5_s, ~unit, subset(fpc, group == "leader"), svymean, na.rm = TRUE),
       df = degf(subset(fpc, group == "leader")))
add_by("total_citizen_q2_by_unit", svyby(~q2_s, ~unit, subset(fpc, group == "citizen"), svytotal, na.rm = TRUE))
add_stat("total_overall_q6", svytotal(~q6_s, fpc, na.rm = TRUE))
r <- svyratio(~q1_s, ~q2_s, fpc, na.rm = TRUE)
add("ratio_q1_q2", "all", coef(r), SE(r), confint(r))
rb <- svyby(~q1_s, ~group, denominator = ~q2_s, design = fpc, FUN = svyratio, na.rm = TRUE)
add_by("ratio_q1_q2_by_group", rb)
add_by("prop_female_by_group", svyby(~female, ~group, fpc, svymean))
add_by("census_q4_by_unit", svyby(~q4_s, ~unit, cen, svymean, na.rm = TRUE))
add_stat("census_overall_q4", svymean(~q4_s, cen, na.rm = TRUE))
add_stat("cluster_q1", svymean(~q1_s, clu, na.rm = TRUE), df = degf(clu))
add_by("cluster_q1_by_sex", svyby(~q1_s, ~sex, clu, svymean, na.rm = TRUE))
add_by("cluster_q3_by_unit", svyby(~q3_s, ~unit, clu, svymean, na.rm = TRUE))
pop_group <- data.frame(group = c("citizen", "leader"),
                        Freq = c(sum(tapply(cit$N, cit$stratum, `[`, 1)), 3000))
clu_ps <- postStratify(clu, ~group, pop_group)
add_by("cluster_poststrat_group_q2_by_sex", svyby(~q2_s, ~sex, clu_ps, svymean, na.rm = TRUE))
ps <- postStratify(cd, ~sex, pop_sex)
add_by("poststrat_then_subset_q5_by_unit", svyby(~q5_s, ~unit, subset(ps, age != "55+"), svymean, na.rm = TRUE))
fem <- subset(cd, sex == "F")
fem_age <- data.frame(age = pop_age$age, Freq = round(pop_age$Freq * 0.52))
add_stat("subset_then_poststrat_q6", svymean(~q6_s, postStratify(fem, ~age, fem_age), na.rm = TRUE))
rk <- rake(cdf, list(~sex, ~age), list(pop_sex, pop_age), control = list(maxit = 100, epsilon = 1e-10))
add_by("rake_fpc_then_subset_q3_by_unit", svyby(~q3_s, ~unit, subset(rk, sex == "F"), svymean, na.rm = TRUE))
add_stat("rake_fpc_total_q1", svytotal(~q1_s, rk, na.rm = TRUE))
ps2 <- postStratify(rake(cd, list(~sex, ~age), list(pop_sex, pop_age), control = list(maxit = 100, epsilon = 1e-10)),
                    ~sex, pop_sex)
add_stat("rake_then_poststrat_q2", svymean(~q2_s, ps2, na.rm = TRUE))
upper <- as.numeric(quantile(weights(cd), 0.8))
tw <- trimWeights(cd, upper = upper, lower = 100)
add_stat("trim_q1", svymean(~q1_s, tw, na.rm = TRUE))
add("trim_weights_sum", "sum", sum(weights(tw)), NA)
add("trim_weights_max", "max", max(weights(tw)), NA)
add("trim_weights_first", "first", weights(tw)[1], NA)
# scoring: strata by unit only, so a unit's leader and citizen means covary
su <- svydesign(ids = ~1, strata = ~unit, weights = ~w, data = d)
# svyby(covmat = TRUE) fails with na.rm in survey 4.1; subset() gives the same domain
b <- svyby(~q1_s, ~unit + group, subset(su, !is.na(q1_s)), svymean, covmat = TRUE)
units <- sort(unique(d$unit))
con <- lapply(units, function(u) setNames(c(0.6, 0.4), paste0(u, c(".citizen", ".leader"))))
names(con) <- units
add_stat("group_weighted_q1_by_unit", svycontrast(b, con))
d$r23 <- rowMeans(cbind(d$q2_s, d$q3_s), na.rm = TRUE)
su <- svydesign(ids = ~1, strata = ~unit, weights = ~w, data = d)
add_by("pooled_q23_by_unit", svyby(~r23, ~unit, su, svymean, na.rm = TRUE))
write.csv(do.call(rbind, rows), args[3], row.names = FALSE)
cat("ok\n")
