package detect

import (
	"strings"
	"testing"
	"time"
)

func init() {
	// Pin "today" so date vectors do not rot.
	now = func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
}

// R-PRS-6, R-SEC-3: every recognizer has valid and invalid vectors,
// including checksum failures and impossible dates.
func TestValidators(t *testing.T) {
	cases := []struct {
		name  string
		fn    func(string) bool
		valid []string
		bad   []string
	}{
		{"resident id 18", ValidResidentID,
			[]string{"11010519491231002X", "11010519491231002x", "440524188001010014", "350203199003071236", "110105200002291235"},
			[]string{
				"110105194912310021", // check digit wrong
				"440524188001010015", // check digit wrong
				"110105190002291234", // 1900-02-29 does not exist (check recomputed below)
				"110105199013011236", // month 13
				"110105203001011234", // future
				"010105194912310021", // region starts with 0
				"1101051949123100",   // too short
				"11010519491231002Y",
			}},
		{"resident id 15", ValidLegacyResidentID,
			[]string{"110105491231002", "350203900307123"},
			[]string{"110105491331002", "110105490230002", "11010549123100", "010105491231002"}},
		{"credit code", ValidCreditCode,
			[]string{"91350200MA2Y0000AJ", "12100000400000000W", "91110108551385082Q"},
			[]string{"91350200MA2Y0000AK", "91110108551385082R", "9135020OMA2Y0000AJ", "91350200MA2Y0000I1", "91350200MA2Y0000A"}},
		{"mobile", ValidMobile,
			[]string{"13800138000", "+8613800138000", "138-0013-8000", "19912345678"},
			[]string{"12800138000", "1380013800", "16012345678", "10086"}},
		{"bank card", ValidBankCard,
			[]string{"6222021234567890128", "4111111111111111", "5555 5555 5555 4444"},
			[]string{"6222021234567890123", "4111111111111112", "411111111111111", "12345678901234567897", "1111111111111111"}},
	}
	// A check-correct ID with an impossible date: fix the check digit so only the date is wrong.
	bad := "11010519000229123"
	cases[0].bad[2] = bad + string(ResidentIDCheck(bad))
	for _, c := range cases {
		for _, v := range c.valid {
			if !c.fn(v) {
				t.Errorf("%s: %q should be valid", c.name, v)
			}
		}
		for _, v := range c.bad {
			if c.fn(v) {
				t.Errorf("%s: %q should be invalid", c.name, v)
			}
		}
	}
}

type want struct {
	entity Entity
	text   string
}

// R-PRS-6: the analyzer finds each entity in free text with exact byte
// offsets, and rejects look-alikes.
func TestAnalyzer(t *testing.T) {
	a := NewAnalyzer()
	cases := []struct {
		text string
		want []want
	}{
		{"身份证号：11010519491231002X，请核对", []want{{ResidentID, "11010519491231002X"}}},
		{"身份证号：110105194912310021", nil},                                  // checksum failure
		{"号码110105199002301235无效", nil},                                   // Feb 30 (pattern allows, validator rejects)
		{"旧身份证 110105491231002", []want{{ResidentID, "110105491231002"}}}, // legacy with context
		{"统一社会信用代码91350200MA2Y0000AJ", []want{{CreditCode, "91350200MA2Y0000AJ"}}},
		{"信用代码91350200MA2Y0000AK", nil},
		{"请致电13800138000或+86 139-1234-5678", []want{{Mobile, "13800138000"}, {Mobile, "+86 139-1234-5678"}}},
		{"订单号213800138000123", nil},
		{"银行卡号 6222021234567890128 已绑定", []want{{BankCard, "6222021234567890128"}}},
		{"卡号 6222021234567890123", nil},
		{"邮箱 zhang.san@example.com.cn。", []want{{Email, "zhang.san@example.com.cn"}}},
		{"from 192.168.1.20 and 2001:db8::8a2e:370:7334 at 12:30:45", []want{{IPAddress, "192.168.1.20"}, {IPAddress, "2001:db8::8a2e:370:7334"}}},
		{"version 1.2.3.400", nil},
		{"车牌闽D12345，新能源粤BD12345和沪A12345D", []want{{VehiclePlate, "闽D12345"}, {VehiclePlate, "粤BD12345"}, {VehiclePlate, "沪A12345D"}}},
		{"护照号码E12345678", []want{{Passport, "E12345678"}}},
		{"往来港澳通行证C12345678", []want{{HKMacaoPermit, "C12345678"}}},
		{"台胞证号码 12345678", []want{{TaiwanPermit, "12345678"}}},
		{"入台证T12345678", []want{{TaiwanPermit, "T12345678"}}},
		{"E12345678", nil}, // bare passport-like string without context
		{"联系人：张三丰，电话13800138000", []want{{PersonName, "张三丰"}, {Mobile, "13800138000"}}},
		{"请王建国先生到窗口", []want{{PersonName, "王建国"}}},
		{"欧阳娜娜", []want{{PersonName, "欧阳娜娜"}}},
		{"家住福建省厦门市思明区湖滨南路123号3单元402室", []want{{Address, "福建省厦门市思明区湖滨南路123号3单元402室"}}},
		{"地址：厦门市湖里区高崎北路8号", []want{{Address, "厦门市湖里区高崎北路8号"}}},
	}
	for _, c := range cases {
		got := a.Analyze(c.text)
		if len(got) != len(c.want) {
			t.Errorf("%q: got %d findings %+v, want %v", c.text, len(got), got, c.want)
			continue
		}
		for i, w := range c.want {
			f := got[i]
			if f.Entity != w.entity || f.Text != w.text || c.text[f.Start:f.End] != f.Text {
				t.Errorf("%q: finding %d = %s %q [%d:%d], want %s %q", c.text, i, f.Entity, f.Text, f.Start, f.End, w.entity, w.text)
			}
		}
	}
}

func TestContextRaisesScore(t *testing.T) {
	r := BankCardRecognizer()
	bare := r.Analyze("6222021234567890128")
	ctx := r.Analyze("银行卡号6222021234567890128")
	if len(bare) != 1 || len(ctx) != 1 || !(ctx[0].Score > bare[0].Score) || ctx[0].Context == "" {
		t.Fatalf("bare %+v ctx %+v", bare, ctx)
	}
}

// fuzzRecognizer checks invariants every recognizer must keep on any input:
// offsets in range, the text equal to the slice, scores in (0,1], and
// validated findings passing their validator again.
func fuzzRecognizer(f *testing.F, r Recognizer, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, fd := range r.Analyze(s) {
			if fd.Start < 0 || fd.End > len(s) || fd.Start >= fd.End || s[fd.Start:fd.End] != fd.Text {
				t.Fatalf("bad offsets %+v in %q", fd, s)
			}
			if fd.Score <= 0 || fd.Score > 1 {
				t.Fatalf("bad score %+v", fd)
			}
			if fd.Entity != r.Entity() {
				t.Fatalf("entity %s from %s", fd.Entity, r.Name())
			}
		}
	})
}

func FuzzResidentID(f *testing.F) {
	fuzzRecognizer(f, ResidentIDRecognizer(), "身份证11010519491231002X", "110105194912310021")
}
func FuzzLegacyResidentID(f *testing.F) {
	fuzzRecognizer(f, LegacyResidentIDRecognizer(), "身份证110105491231002")
}
func FuzzCreditCode(f *testing.F) {
	fuzzRecognizer(f, CreditCodeRecognizer(), "91350200MA2Y0000AJ", "9135020OMA2Y0000AJ")
}
func FuzzMobile(f *testing.F) { fuzzRecognizer(f, MobileRecognizer(), "+86 138-0013-8000") }
func FuzzBankCard(f *testing.F) {
	fuzzRecognizer(f, BankCardRecognizer(), "6222 0212 3456 7890 128")
}
func FuzzEmail(f *testing.F) { fuzzRecognizer(f, EmailRecognizer(), "a.b@c.cn", "x@@y..z") }
func FuzzIPv4(f *testing.F)  { fuzzRecognizer(f, IPv4Recognizer(), "10.0.0.1", "999.1.1.1") }
func FuzzIPv6(f *testing.F)  { fuzzRecognizer(f, IPv6Recognizer(), "fe80::1%eth0", "::ffff:1.2.3.4") }
func FuzzVehiclePlate(f *testing.F) {
	fuzzRecognizer(f, VehiclePlateRecognizer(), "粤BD12345", "京A·12345")
}
func FuzzPassport(f *testing.F) { fuzzRecognizer(f, PassportRecognizer(), "护照E12345678") }
func FuzzHKMacaoPermit(f *testing.F) {
	fuzzRecognizer(f, HKMacaoPermitRecognizer(), "通行证C12345678", "H1234567890")
}
func FuzzTaiwanPermit(f *testing.F) { fuzzRecognizer(f, TaiwanPermitRecognizer(), "台胞证12345678") }
func FuzzName(f *testing.F) {
	fuzzRecognizer(f, NameRecognizer(), "姓名：张三", "欧阳先生", "李")
}
func FuzzAddress(f *testing.F) {
	fuzzRecognizer(f, AddressRecognizer(), "家住福建省厦门市思明区湖滨南路123号", strings.Repeat("区路", 20))
}

// FuzzAnalyzer checks that resolved findings never overlap.
func FuzzAnalyzer(f *testing.F) {
	f.Add("联系人：张三，身份证11010519491231002X，卡号6222021234567890128")
	a := NewAnalyzer()
	f.Fuzz(func(t *testing.T, s string) {
		fs := a.Analyze(s)
		for i := 1; i < len(fs); i++ {
			if fs[i].Start < fs[i-1].End {
				t.Fatalf("overlap %+v %+v", fs[i-1], fs[i])
			}
		}
	})
}
