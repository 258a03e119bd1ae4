package catalog

// Term is one value of a taxonomy: a stable code and its labels.
type Term struct {
	Code string `json:"code"`
	ZH   string `json:"zh"`
	EN   string `json:"en"`
}

// Taxonomy is the configurable vocabulary entries are classified by.
type Taxonomy struct {
	// Themes (主题分类): by default the 24 themes of Xiamen's open platform.
	Themes []Term `json:"themes"`
	// Industries (行业分类): by default the 20 sections of GB/T 4754-2017.
	Industries []Term `json:"industries"`
	// BaseLibraries are the base databases of XM17; ThemeLibraries the
	// theme databases orgs build.
	BaseLibraries  []Term `json:"base_libraries"`
	ThemeLibraries []Term `json:"theme_libraries"`
	// Formats are the accepted distribution formats.
	Formats []Term `json:"formats"`
}

func has(terms []Term, code string) bool {
	for _, t := range terms {
		if t.Code == code {
			return true
		}
	}
	return false
}

func label(terms []Term, code string) string {
	for _, t := range terms {
		if t.Code == code {
			return t.ZH
		}
	}
	return code
}

// DefaultTaxonomy returns the default vocabulary: 24 themes, 20 industries,
// the five base libraries of XM17, common theme libraries and formats.
func DefaultTaxonomy() Taxonomy {
	return Taxonomy{
		Themes: []Term{
			{"economy", "经济建设", "Economy"},
			{"finance", "财税金融", "Finance and taxation"},
			{"environment", "资源环境", "Resources and environment"},
			{"housing", "城建住房", "Urban construction and housing"},
			{"transport", "道路交通", "Roads and transport"},
			{"education", "教育科技", "Education and science"},
			{"culture", "文化休闲", "Culture and leisure"},
			{"health", "医疗卫生", "Health care"},
			{"social_security", "社会保障", "Social security"},
			{"employment", "劳动就业", "Labour and employment"},
			{"agriculture", "农业农村", "Agriculture and rural affairs"},
			{"work_safety", "安全生产", "Work safety"},
			{"market", "市场监管", "Market regulation"},
			{"relief", "社会救助", "Social assistance"},
			{"legal", "法律服务", "Legal services"},
			{"living", "生活服务", "Living services"},
			{"weather", "气象服务", "Weather"},
			{"geo", "地理空间", "Geospatial"},
			{"organisations", "机构团体", "Organisations"},
			{"credit", "信用服务", "Credit"},
			{"public_security", "公共安全", "Public security"},
			{"commerce", "商贸流通", "Commerce and trade"},
			{"tourism", "旅游服务", "Tourism"},
			{"government", "政务服务", "Government services"},
		},
		Industries: []Term{
			{"A", "农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery"},
			{"B", "采矿业", "Mining"},
			{"C", "制造业", "Manufacturing"},
			{"D", "电力、热力、燃气及水生产和供应业", "Electricity, heat, gas and water"},
			{"E", "建筑业", "Construction"},
			{"F", "批发和零售业", "Wholesale and retail"},
			{"G", "交通运输、仓储和邮政业", "Transport, storage and post"},
			{"H", "住宿和餐饮业", "Accommodation and catering"},
			{"I", "信息传输、软件和信息技术服务业", "Information technology"},
			{"J", "金融业", "Finance"},
			{"K", "房地产业", "Real estate"},
			{"L", "租赁和商务服务业", "Leasing and business services"},
			{"M", "科学研究和技术服务业", "Scientific research and technical services"},
			{"N", "水利、环境和公共设施管理业", "Water, environment and public facilities"},
			{"O", "居民服务、修理和其他服务业", "Residential and other services"},
			{"P", "教育", "Education"},
			{"Q", "卫生和社会工作", "Health and social work"},
			{"R", "文化、体育和娱乐业", "Culture, sports and entertainment"},
			{"S", "公共管理、社会保障和社会组织", "Public administration and social organisations"},
			{"T", "国际组织", "International organisations"},
		},
		BaseLibraries: []Term{
			{"population", "人口基础库", "Population"},
			{"legal_person", "法人基础库", "Legal persons"},
			{"geo", "自然资源和空间地理基础库", "Natural resources and geospatial"},
			{"credit", "信用基础库", "Credit"},
			{"e_licence", "电子证照基础库", "Electronic licences"},
		},
		ThemeLibraries: []Term{
			{"business_environment", "营商环境主题库", "Business environment"},
			{"city_operation", "城市运行主题库", "City operation"},
			{"health", "健康医疗主题库", "Health"},
			{"social_governance", "社会治理主题库", "Social governance"},
			{"transport", "交通出行主题库", "Transport"},
			{"ecology", "生态环境主题库", "Ecology"},
		},
		Formats: []Term{
			{"csv", "CSV", "CSV"},
			{"xlsx", "XLSX", "XLSX"},
			{"json", "JSON", "JSON"},
			{"xml", "XML", "XML"},
			{"rdf", "RDF", "RDF"},
			{"shp", "SHP", "Shapefile"},
			{"geojson", "GeoJSON", "GeoJSON"},
			{"pdf", "PDF", "PDF"},
			{"api", "接口", "API"},
		},
	}
}
