// Package privacy is the platform's privacy toolkit (issue 7; R-PRS-6,
// R-OPN-4, R-OPN-6, R-DEV-2, R-DEV-7, R-SEC-3). The work lives in
// subpackages:
//
//	detect    recognizers for Chinese and general personal identifiers (Presidio's shape)
//	classify  column classification: category, GB/T 43697-2024 level, personal flags
//	table     reading CSV (UTF-8, GBK/GB18030) and XLSX files people bring
//	mask      masking transforms (partial, keyed pseudonym, generalisation, suppression) and rules
//	anon      k-anonymity, l-diversity, t-closeness over ARX hierarchies; re-identification risk
//	dp        differential-privacy aggregates with a per-operator, per-dataset budget account
//
// See docs/privacy.md.
package privacy
