package detect

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Common Chinese surnames: the most frequent single-character surnames
// (covering most of the population per the Ministry of Public Security's
// annual name report) and the common compound ones.
var (
	singleSurnames   = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝")
	compoundSurnames = []string{"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里"}
	surnameSet       = map[rune]bool{}
)

func init() {
	for _, r := range singleSurnames {
		surnameSet[r] = true
	}
}

var (
	nameContext = []string{"姓名", "名字", "联系人", "申请人", "户主", "法定代表人", "法人代表", "负责人", "经办人", "收件人", "收货人", "患者", "当事人", "监护人", "持卡人", "被申请人", "name"}
	honorifics  = []string{"先生", "女士", "同志", "老师", "医生", "师傅", "小姐"}
	// Words that follow a surname character but are not given names.
	notGiven = []string{"的", "了", "是", "在", "和", "与", "有", "不", "也", "就", "都", "说", "市", "省", "区", "县", "路", "街", "号", "公司", "局", "年", "月", "日"}
)

// IsSurnameStart reports whether s begins with a common Chinese surname and
// returns its byte length.
func IsSurnameStart(s string) (int, bool) {
	for _, c := range compoundSurnames {
		if strings.HasPrefix(s, c) {
			return len(c), true
		}
	}
	r, n := utf8.DecodeRuneInString(s)
	if surnameSet[r] {
		return n, true
	}
	return 0, false
}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// nameAt returns the byte length of a plausible name (surname plus one or
// two Han characters) starting at s, or 0.
func nameAt(s string, maxGiven int) int {
	n, ok := IsSurnameStart(s)
	if !ok {
		return 0
	}
	given := 0
	i := n
	for given < maxGiven && i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		if !isHan(r) {
			break
		}
		rest := s[i:]
		stop := false
		for _, ng := range notGiven {
			if strings.HasPrefix(rest, ng) {
				stop = true
				break
			}
		}
		for _, h := range honorifics {
			if strings.HasPrefix(rest, h) {
				stop = true
				break
			}
		}
		if stop {
			break
		}
		i += w
		given++
	}
	if given == 0 {
		return 0
	}
	return i
}

// NameRecognizer finds Chinese personal names by heuristics: a common
// surname and one or two more Han characters, (a) after a context word such
// as 姓名 or 联系人 (score 0.85), (b) before an honorific such as 先生 (0.7),
// or (c) as the whole text, as in a name column's cell (0.5).
func NameRecognizer() Recognizer { return nameRecognizer{} }

type nameRecognizer struct{}

func (nameRecognizer) Name() string   { return "cn_person_name" }
func (nameRecognizer) Entity() Entity { return PersonName }

func (nameRecognizer) Analyze(text string) []Finding {
	var out []Finding
	add := func(s, e int, score float64, ctx string) {
		for _, f := range out {
			if f.Start == s && f.End == e {
				return
			}
		}
		out = append(out, Finding{Entity: PersonName, Start: s, End: e, Text: text[s:e], Score: score, Recognizer: "cn_person_name", Context: ctx})
	}
	lower := asciiLower(text)
	// (a) after context words.
	for _, w := range nameContext {
		for off := 0; ; {
			i := strings.Index(lower[off:], w)
			if i < 0 {
				break
			}
			p := off + i + len(w)
			off = p
			// skip separators: ：: space 为 是
			for p < len(text) {
				r, n := utf8.DecodeRuneInString(text[p:])
				if r == '：' || r == ':' || r == ' ' || r == '\t' || r == '为' || r == '是' || r == '=' {
					p += n
					continue
				}
				break
			}
			if n := nameAt(text[p:], 2); n > 0 {
				add(p, p+n, 0.85, w)
			}
		}
	}
	// (b) before honorifics: surname plus up to two characters directly
	// before 先生/女士…
	for _, h := range honorifics {
		for off := 0; ; {
			i := strings.Index(text[off:], h)
			if i < 0 {
				break
			}
			end := off + i
			off = end + len(h)
			// try starts 3, 2, 1 runes back (longest plausible first).
			for back := 3; back >= 1; back-- {
				s := end
				ok := true
				for j := 0; j < back; j++ {
					if s == 0 {
						ok = false
						break
					}
					r, n := utf8.DecodeLastRuneInString(text[:s])
					if !isHan(r) {
						ok = false
						break
					}
					s -= n
				}
				if !ok {
					continue
				}
				if n, isSur := IsSurnameStart(text[s:end]); isSur && (n == end-s || nameAt(text[s:], 2) == end-s) {
					add(s, end, 0.7, h)
					break
				}
			}
		}
	}
	// (c) the whole (trimmed) text is a name.
	t := strings.TrimSpace(text)
	if rc := utf8.RuneCountInString(t); rc >= 2 && rc <= 4 {
		allHan := true
		for _, r := range t {
			if !isHan(r) {
				allHan = false
				break
			}
		}
		if allHan && nameAt(t, 3) == len(t) {
			s := strings.Index(text, t)
			add(s, s+len(t), 0.5, "")
		}
	}
	return out
}

// Address markers by administrative level.
var (
	provinces      = []string{"北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门"}
	reAddress      = regexp.MustCompile(`(?:\p{Han}{2,8}?(?:省|自治区))?(?:\p{Han}{2,9}?(?:市|自治州|地区|盟))?(?:\p{Han}{1,8}?(?:区|县|旗|市))?(?:\p{Han}{1,10}?(?:街道|镇|乡))?(?:\p{Han}{1,12}?(?:大道|路|街|巷|弄|村|胡同|里))?(?:[0-9０-９]{1,5}(?:[-之][0-9]{1,4})?号)?(?:(?:[\p{Han}A-Za-z0-9]{1,12}?(?:小区|花园|大厦|公寓|苑))?(?:[0-9０-９A-Za-z]{1,4}(?:号楼|栋|幢|座))?(?:[0-9０-９]{1,3}单元)?(?:[0-9０-９]{1,5}(?:室|房|户))?)`)
	addressContext = []string{"地址", "住址", "住所", "户籍", "居住", "通讯", "家住", "住在", "位于", "address", "addr"}
	addressLead    = []string{"地址为", "地址是", "住址为", "家住", "住在", "居住在", "位于", "来自", "地址", "住址", "在", "于", "是", "为"}
)

// AddressRecognizer finds Chinese postal addresses by heuristics: a run of
// administrative levels (省, 市, 区/县, 街道/镇, 路/街/村, 号, 栋/单元/室).
// The more levels a match has, the higher its score; context words such as
// 地址 or 住址 raise it.
func AddressRecognizer() Recognizer { return addressRecognizer{} }

type addressRecognizer struct{}

func (addressRecognizer) Name() string   { return "cn_address" }
func (addressRecognizer) Entity() Entity { return Address }

var addrLevels = []*regexp.Regexp{
	regexp.MustCompile(`(?:省|自治区)`),
	regexp.MustCompile(`(?:市|自治州|地区|盟)`),
	regexp.MustCompile(`\p{Han}(?:区|县|旗)`),
	regexp.MustCompile(`(?:街道|镇|乡)`),
	regexp.MustCompile(`(?:大道|路|街|巷|弄|村|胡同)`),
	regexp.MustCompile(`[0-9０-９]号`),
	regexp.MustCompile(`(?:小区|花园|大厦|公寓|苑|号楼|栋|幢|座|单元|室)`),
}

func (addressRecognizer) Analyze(text string) []Finding {
	var out []Finding
	for _, loc := range reAddress.FindAllStringIndex(text, -1) {
		s, e := loc[0], loc[1]
		if e-s < 6 {
			continue
		}
		m := text[s:e]
		// Start at a province name if there is one; otherwise drop leading
		// verbs and prepositions the lazy match may have swallowed.
		cut := -1
		for _, p := range provinces {
			if i := strings.Index(m, p); i >= 0 && (cut < 0 || i < cut) {
				cut = i
			}
		}
		if cut < 0 {
			for changed := true; changed; {
				changed = false
				for _, l := range addressLead {
					if i := strings.Index(m, l); i >= 0 && i <= 9 && len(m)-i-len(l) >= 6 {
						// only cut if what precedes is short (a verb phrase)
						m = m[i+len(l):]
						s = e - len(m)
						changed = true
						break
					}
				}
			}
		} else {
			m = m[cut:]
			s = e - len(m)
		}
		levels := 0
		for _, re := range addrLevels {
			if re.MatchString(m) {
				levels++
			}
		}
		if levels < 2 || utf8.RuneCountInString(m) < 5 {
			continue
		}
		score := 0.3 + 0.1*float64(levels)
		f := Finding{Entity: Address, Start: s, End: e, Text: m, Score: min(score, 0.85), Recognizer: "cn_address"}
		if w := findContext(text, s, e, addressContext, 12); w != "" {
			f.Context = w
			f.Score = min(1, f.Score+0.3)
		}
		out = append(out, f)
	}
	return out
}

// asciiLower lower-cases ASCII letters only, so byte offsets are kept.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
