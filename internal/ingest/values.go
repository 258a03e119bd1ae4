package ingest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"shuqiao/internal/catalog"
	"shuqiao/internal/store"
)

// shanghai is the zone of times written without one: the platform serves
// Chinese cities (UTC+8 has had no daylight saving since 1991).
var shanghai = time.FixedZone("CST", 8*3600)

// column is one field as a load checks it.
type column struct {
	f catalog.Field
	// codes maps an allowed code, and each code's label, to the code; nil
	// when the field names no code list the platform knows.
	codes map[string]string
	key   bool
	// src is the field's position in the input row, -1 if absent.
	src int
}

// cellError is why one value is invalid.
type cellError struct {
	code   string
	zh, en string
}

func cellErr(code, zh, en string, args ...any) *cellError {
	return &cellError{code: code, zh: fmt.Sprintf(zh, args...), en: fmt.Sprintf(en, args...)}
}

var errRequired = &cellError{code: "ingest.required", zh: "必填数据项为空", en: "a required field is empty"}

// parse checks raw against the field's type and code list and returns the
// value to store (nil for empty). fromSheet accepts spreadsheet serial
// numbers for dates.
func (c *column) parse(raw string, d store.Dialect, fromSheet bool) (any, *cellError) {
	v := strings.TrimSpace(raw)
	if v == "" {
		if c.f.Required || c.key {
			return nil, errRequired
		}
		return nil, nil
	}
	if c.codes != nil {
		code, ok := c.codes[v]
		if !ok {
			return nil, cellErr("ingest.code_list", "值 %q 不在代码表 %s 中", "value %q is not in code list %s", clip(v, 40), c.f.CodeList)
		}
		v = code
	}
	switch c.f.Type {
	case "string":
		if !utf8.ValidString(v) {
			return nil, cellErr("ingest.bad_text", "文本不是有效的 UTF-8", "the text is not valid UTF-8")
		}
		return v, nil
	case "integer":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			// Spreadsheets write whole numbers as 12.0.
			if f, ferr := strconv.ParseFloat(v, 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return int64(f), nil
			}
			return nil, cellErr("ingest.bad_integer", "%q 不是整数", "%q is not an integer", clip(v, 40))
		}
		return n, nil
	case "decimal":
		dv, ok := normDecimal(v)
		if !ok {
			return nil, cellErr("ingest.bad_decimal", "%q 不是数值", "%q is not a number", clip(v, 40))
		}
		return dv, nil
	case "boolean":
		b, ok := parseBool(v)
		if !ok {
			return nil, cellErr("ingest.bad_boolean", "%q 不是布尔值（是/否、true/false、1/0）", "%q is not a boolean (true/false, 1/0, 是/否)", clip(v, 40))
		}
		if d == store.Postgres {
			return b, nil
		}
		if b {
			return int64(1), nil
		}
		return int64(0), nil
	case "date":
		t, ok := parseDate(v, fromSheet)
		if !ok {
			return nil, cellErr("ingest.bad_date", "%q 不是日期（YYYY-MM-DD）", "%q is not a date (YYYY-MM-DD)", clip(v, 40))
		}
		return t.Format(time.DateOnly), nil
	case "datetime":
		t, ok := parseDateTime(v, fromSheet)
		if !ok {
			return nil, cellErr("ingest.bad_datetime", "%q 不是日期时间（如 2024-05-01 08:30:00 或 RFC 3339）", "%q is not a date-time (e.g. 2024-05-01 08:30:00 or RFC 3339)", clip(v, 40))
		}
		if d == store.Postgres {
			return t, nil
		}
		return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00"), nil
	case "binary":
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, cellErr("ingest.bad_binary", "二进制值须为 Base64", "a binary value must be Base64")
		}
		return b, nil
	case "geometry":
		if !looksGeometry(v) {
			return nil, cellErr("ingest.bad_geometry", "几何值须为 WKT 或 GeoJSON", "a geometry must be WKT or GeoJSON")
		}
		return v, nil
	}
	return nil, cellErr("ingest.bad_type", "未知类型 %s", "unknown type %s", c.f.Type)
}

func normDecimal(v string) (string, bool) {
	s := strings.ReplaceAll(v, ",", "")
	if s == "" || len(s) > 100 {
		return "", false
	}
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i = 1
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		case c == 'e' || c == 'E':
			r, ok := new(big.Rat).SetString(s)
			if !ok {
				return "", false
			}
			return r.FloatString(decimalsOf(r)), true
		default:
			return "", false
		}
	}
	if digits == 0 {
		return "", false
	}
	s = strings.TrimPrefix(s, "+")
	if strings.HasPrefix(s, ".") {
		s = "0" + s
	} else if strings.HasPrefix(s, "-.") {
		s = "-0" + s[1:]
	}
	return strings.TrimSuffix(s, "."), true
}

func decimalsOf(r *big.Rat) int {
	for n := 0; n < 30; n++ {
		if new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil))).IsInt() {
			return n
		}
	}
	return 30
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "1", "true", "t", "yes", "y", "是", "真", "有":
		return true, true
	case "0", "false", "f", "no", "n", "否", "假", "无":
		return false, true
	}
	return false, false
}

var dateLayouts = []string{"2006-01-02", "2006/01/02", "20060102", "2006.01.02", "2006-1-2", "2006/1/2", "2006年1月2日", "2006年01月02日"}

// excelEpoch is day 0 of spreadsheet serial dates (with Lotus's 1900 leap bug).
var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

func parseDate(v string, fromSheet bool) (time.Time, bool) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, t.Year() >= 1 && t.Year() <= 9999
		}
	}
	if fromSheet {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 1 && f < 2958466 {
			return excelEpoch.AddDate(0, 0, int(f)), true
		}
	}
	if t, ok := parseDateTime(v, false); ok && len(v) > 10 {
		// A date-time whose time is midnight is a date.
		if lt := t.In(shanghai); lt.Hour() == 0 && lt.Minute() == 0 && lt.Second() == 0 {
			return time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC), true
		}
	}
	return time.Time{}, false
}

var dateTimeLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006/01/02 15:04:05", "2006-01-02 15:04", "2006/01/02 15:04",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "20060102150405", "2006年1月2日 15:04:05", "2006年1月2日15时04分05秒"}

func parseDateTime(v string, fromSheet bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.Truncate(time.Microsecond), t.Year() >= 1 && t.Year() <= 9999
	}
	for _, l := range dateTimeLayouts {
		if t, err := time.ParseInLocation(l, v, shanghai); err == nil {
			return t.Truncate(time.Microsecond), true
		}
	}
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, v, shanghai); err == nil {
			return t, true
		}
	}
	if fromSheet {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < 2958466 {
			days := math.Floor(f)
			secs := math.Round((f - days) * 86400)
			t := excelEpoch.AddDate(0, 0, int(days)).Add(time.Duration(secs) * time.Second)
			return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, shanghai), true
		}
	}
	return time.Time{}, false
}

var wktPrefixes = []string{"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION", "SRID="}

func looksGeometry(v string) bool {
	if strings.HasPrefix(v, "{") {
		var g struct {
			Type string `json:"type"`
		}
		return json.Unmarshal([]byte(v), &g) == nil && g.Type != ""
	}
	u := strings.ToUpper(v)
	for _, p := range wktPrefixes {
		if strings.HasPrefix(u, p) {
			return strings.Contains(v, "(") || strings.Contains(u, "EMPTY")
		}
	}
	return false
}

// textOf renders a stored value of type t as the text a load would accept,
// for conversions, rules and objections.
func textOf(t catalog.FieldType, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		if t == "binary" {
			return base64.StdEncoding.EncodeToString(x)
		}
		return string(x)
	case int64:
		if t == "boolean" {
			return strconv.FormatBool(x != 0)
		}
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		if t == "date" {
			return x.UTC().Format(time.DateOnly)
		}
		return x.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
	}
	return fmt.Sprint(v)
}
