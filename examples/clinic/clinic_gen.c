/*
 * clinic_gen.c: clinic-gen, a deterministic generator of a synthetic
 * Chinese clinic-visits data set for veil's examples, tests and benchmarks.
 *
 * usage: clinic-gen --rows N [--seed S] [--out FILE]
 *
 * It writes CSV (RFC 4180, LF line endings, one header line), one row per
 * visit; a patient's 1 to 8 visits are consecutive rows and share every
 * per-patient attribute. Everyone in it is invented: names, resident ID
 * numbers (valid GB 11643-1999 check characters), mobile numbers and
 * e-mail addresses, and the personal data planted in the free-text notes
 * (phone and ID numbers, e-mail addresses, UnionPay card numbers with a
 * Luhn check digit, IPv4 addresses), which is there so that the text
 * scrubber has something realistic to find.
 *
 * Patient IDs are "P" and 7 digits up to about 1.5e7 rows, then 8.
 *
 * The same seed and N give the same bytes with any compiler on any
 * platform with IEEE 754 doubles: one xoshiro256** stream drives
 * everything, drawn in sequenced statements only, dates are integer day
 * numbers, and costs use only +, -, * and / on doubles (no libm).
 * Exit status: 0 on success, 1 on an I/O error, 2 on bad arguments.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_MAX	100000000ULL
#define OUTBUF_SIZE	(4 * 1024 * 1024)
#define ROW_MAX		8192		/* bound on one CSV row */
#define SENT_MAX	256		/* bound on one expanded sentence */
#define NOTE_SLOTS	10
#define NOTE_MAX	(NOTE_SLOTS * (SENT_MAX + 4))
#define VISITS_MAX	8
#define AGE_MAX		92		/* at the first visit; +3 years later */
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define NDIAG		17
enum { D_J45, D_E11, D_I10, D_J18, D_K29, D_M54, D_N39, D_I25, D_E78,
    D_F32, D_J06, D_K21, D_M17, D_I63, D_C34, D_O80, D_Z00 };

struct rng {
	uint64_t	 s[4];
};

struct region {
	const char	*code;
	const char	*postal;
};

struct hanzi {
	const char	*ch;
	const char	*py;		/* pinyin, for e-mail handles */
	char		 sex;		/* 'M', 'F' or 'N': either */
};

struct patient {
	uint32_t	 num;
	int		 male;
	int		 by, bm, bd;	/* birth date */
	int32_t		 birth;		/* days since 1970-01-01 */
	int		 region;
	const struct hanzi *sur;
	const struct hanzi *given[2];
	int		 ngiven;
	char		 idnum[19];
	char		 phone[12];
	char		 email[96];	/* "" for none */
	char		 prefix[256];	/* the row's per-patient columns */
	size_t		 prefixlen;
};

struct out {
	FILE		*fp;
	char		*buf;
	size_t		 len;
};

static const char *const diagnoses[NDIAG] = {
	"J45", "E11", "I10", "J18", "K29", "M54", "N39", "I25", "E78",
	"F32", "J06", "K21", "M17", "I63", "C34", "O80", "Z00"
};

/* Relative frequency by age: 0-14, 15-44, 45-64, 65 and over. */
static const unsigned short diag_weight[4][NDIAG] = {
	{ 120,   2,   1, 100,  20,  10,  30,   0,   2,  10, 450,  10,   0,
	    0,   0,   0, 245 },
	{  50,  30,  40,  40, 100, 100,  70,  10,  30,  80, 220,  60,  10,
	    2,   2,  80,  76 },
	{  30, 140, 180,  40,  80,  90,  40,  70,  90,  40,  80,  50,  60,
	   30,  20,   0,  60 },
	{  30, 150, 200,  80,  50,  60,  50, 120,  70,  30,  50,  30,  90,
	   60,  30,   0,  30 },
};

/* Conditions that bring the patient back for the same thing. */
static const unsigned char diag_chronic[NDIAG] = {
	1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0
};

/* Median cost in CNY and lognormal sigma x 100, per diagnosis. */
static const unsigned cost_median[NDIAG] = {
	320, 450, 260, 2600, 380, 480, 300, 3200, 280, 550, 110, 360, 850,
	19000, 36000, 7500, 180
};
static const unsigned cost_sigma[NDIAG] = {
	70, 60, 55, 95, 65, 75, 55, 100, 50, 60, 50, 55, 85, 80, 90, 45, 60
};

/* Readmission rate per mille. */
static const unsigned short readmit_pm[NDIAG] = {
	88, 83, 66, 240, 50, 38, 88, 175, 44, 100, 28, 38, 50, 300, 350, 44, 11
};

/* Visits per patient, 1 to 8. */
static const unsigned short visit_weight[VISITS_MAX] = {
	40, 24, 14, 9, 6, 4, 2, 1
};

static const struct region regions[] = {
	{ "110101", "100010" }, { "110102", "100032" },
	{ "110105", "100020" }, { "110108", "100080" },
	{ "120101", "300041" }, { "210102", "110001" },
	{ "230103", "150001" }, { "310101", "200001" },
	{ "310104", "200030" }, { "310115", "200120" },
	{ "320102", "210018" }, { "320106", "210009" },
	{ "330102", "310002" }, { "330106", "310013" },
	{ "350203", "361001" }, { "370102", "250014" },
	{ "370202", "266001" }, { "410105", "450003" },
	{ "420102", "430014" }, { "420106", "430061" },
	{ "430104", "410006" }, { "440103", "510140" },
	{ "440106", "510000" }, { "440304", "518033" },
	{ "440305", "518052" }, { "500103", "400010" },
	{ "500106", "400030" }, { "510104", "610021" },
	{ "510107", "610041" }, { "530102", "650021" },
	{ "610103", "710001" }, { "610113", "710061" },
};
#define NREGIONS	NELEM(regions)

static const unsigned short phone_prefixes[] = {
	130, 131, 132, 133, 134, 135, 136, 137, 138, 139,
	150, 151, 152, 153, 155, 156, 157, 158, 159,
	166, 170, 176, 177, 178,
	180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 198, 199
};
#define NPHONEPFX	NELEM(phone_prefixes)

/* Roughly in order of frequency; drawn with a bias towards the front. */
static const struct hanzi surnames[] = {
	{ "王", "wang", 'N' }, { "李", "li", 'N' }, { "张", "zhang", 'N' },
	{ "刘", "liu", 'N' }, { "陈", "chen", 'N' }, { "杨", "yang", 'N' },
	{ "黄", "huang", 'N' }, { "赵", "zhao", 'N' }, { "吴", "wu", 'N' },
	{ "周", "zhou", 'N' }, { "徐", "xu", 'N' }, { "孙", "sun", 'N' },
	{ "马", "ma", 'N' }, { "朱", "zhu", 'N' }, { "胡", "hu", 'N' },
	{ "郭", "guo", 'N' }, { "何", "he", 'N' }, { "高", "gao", 'N' },
	{ "林", "lin", 'N' }, { "罗", "luo", 'N' }, { "郑", "zheng", 'N' },
	{ "梁", "liang", 'N' }, { "谢", "xie", 'N' }, { "宋", "song", 'N' },
	{ "唐", "tang", 'N' }, { "许", "xu", 'N' }, { "韩", "han", 'N' },
	{ "冯", "feng", 'N' }, { "邓", "deng", 'N' }, { "曹", "cao", 'N' },
	{ "彭", "peng", 'N' }, { "曾", "zeng", 'N' }, { "肖", "xiao", 'N' },
	{ "田", "tian", 'N' }, { "董", "dong", 'N' }, { "袁", "yuan", 'N' },
	{ "潘", "pan", 'N' }, { "于", "yu", 'N' }, { "蒋", "jiang", 'N' },
	{ "蔡", "cai", 'N' }, { "余", "yu", 'N' }, { "杜", "du", 'N' },
	{ "叶", "ye", 'N' }, { "程", "cheng", 'N' }, { "苏", "su", 'N' },
	{ "魏", "wei", 'N' }, { "吕", "lv", 'N' }, { "丁", "ding", 'N' },
	{ "任", "ren", 'N' }, { "沈", "shen", 'N' }, { "姚", "yao", 'N' },
	{ "卢", "lu", 'N' }, { "姜", "jiang", 'N' }, { "崔", "cui", 'N' },
	{ "钟", "zhong", 'N' }, { "谭", "tan", 'N' }, { "陆", "lu", 'N' },
	{ "汪", "wang", 'N' }, { "范", "fan", 'N' }, { "金", "jin", 'N' },
};
#define NSURNAMES	NELEM(surnames)

static const struct hanzi compound_surnames[] = {
	{ "欧阳", "ouyang", 'N' }, { "司马", "sima", 'N' },
	{ "诸葛", "zhuge", 'N' }, { "上官", "shangguan", 'N' },
	{ "司徒", "situ", 'N' }, { "东方", "dongfang", 'N' },
	{ "慕容", "murong", 'N' }, { "令狐", "linghu", 'N' },
	{ "皇甫", "huangfu", 'N' }, { "夏侯", "xiahou", 'N' },
};
#define NCOMPOUND	NELEM(compound_surnames)

static const struct hanzi given_chars[] = {
	{ "伟", "wei", 'M' }, { "强", "qiang", 'M' }, { "磊", "lei", 'M' },
	{ "军", "jun", 'M' }, { "勇", "yong", 'M' }, { "杰", "jie", 'M' },
	{ "涛", "tao", 'M' }, { "超", "chao", 'M' }, { "刚", "gang", 'M' },
	{ "鹏", "peng", 'M' }, { "辉", "hui", 'M' }, { "建", "jian", 'M' },
	{ "国", "guo", 'M' }, { "志", "zhi", 'M' }, { "海", "hai", 'M' },
	{ "波", "bo", 'M' }, { "浩", "hao", 'M' }, { "俊", "jun", 'M' },
	{ "博", "bo", 'M' }, { "轩", "xuan", 'M' }, { "睿", "rui", 'M' },
	{ "泽", "ze", 'M' }, { "鑫", "xin", 'M' }, { "斌", "bin", 'M' },
	{ "凯", "kai", 'M' }, { "峰", "feng", 'M' }, { "健", "jian", 'M' },
	{ "亮", "liang", 'M' }, { "飞", "fei", 'M' }, { "彬", "bin", 'M' },
	{ "成", "cheng", 'M' }, { "德", "de", 'M' }, { "福", "fu", 'M' },
	{ "龙", "long", 'M' }, { "宇", "yu", 'M' }, { "豪", "hao", 'M' },
	{ "毅", "yi", 'M' }, { "祥", "xiang", 'M' }, { "振", "zhen", 'M' },
	{ "兵", "bing", 'M' }, { "武", "wu", 'M' },
	{ "芳", "fang", 'F' }, { "娜", "na", 'F' }, { "静", "jing", 'F' },
	{ "丽", "li", 'F' }, { "艳", "yan", 'F' }, { "娟", "juan", 'F' },
	{ "秀", "xiu", 'F' }, { "霞", "xia", 'F' }, { "桂", "gui", 'F' },
	{ "英", "ying", 'F' }, { "兰", "lan", 'F' }, { "梅", "mei", 'F' },
	{ "红", "hong", 'F' }, { "玉", "yu", 'F' }, { "欣", "xin", 'F' },
	{ "怡", "yi", 'F' }, { "婷", "ting", 'F' }, { "雪", "xue", 'F' },
	{ "琳", "lin", 'F' }, { "萱", "xuan", 'F' }, { "涵", "han", 'F' },
	{ "慧", "hui", 'F' }, { "颖", "ying", 'F' }, { "倩", "qian", 'F' },
	{ "燕", "yan", 'F' }, { "蕾", "lei", 'F' }, { "虹", "hong", 'F' },
	{ "琴", "qin", 'F' }, { "莉", "li", 'F' }, { "翠", "cui", 'F' },
	{ "凤", "feng", 'F' }, { "淑", "shu", 'F' }, { "珍", "zhen", 'F' },
	{ "萍", "ping", 'F' }, { "丹", "dan", 'F' }, { "莹", "ying", 'F' },
	{ "洁", "jie", 'F' }, { "露", "lu", 'F' }, { "媛", "yuan", 'F' },
	{ "敏", "min", 'N' }, { "洋", "yang", 'N' }, { "明", "ming", 'N' },
	{ "平", "ping", 'N' }, { "华", "hua", 'N' }, { "文", "wen", 'N' },
	{ "林", "lin", 'N' }, { "然", "ran", 'N' }, { "晨", "chen", 'N' },
	{ "阳", "yang", 'N' }, { "佳", "jia", 'N' }, { "子", "zi", 'N' },
	{ "梓", "zi", 'N' }, { "一", "yi", 'N' }, { "诺", "nuo", 'N' },
	{ "雨", "yu", 'N' }, { "思", "si", 'N' }, { "嘉", "jia", 'N' },
	{ "宁", "ning", 'N' }, { "瑞", "rui", 'N' }, { "晓", "xiao", 'N' },
	{ "荣", "rong", 'N' }, { "春", "chun", 'N' }, { "秋", "qiu", 'N' },
	{ "冬", "dong", 'N' }, { "东", "dong", 'N' }, { "新", "xin", 'N' },
	{ "生", "sheng", 'N' }, { "云", "yun", 'N' }, { "安", "an", 'N' },
};
#define NGIVEN		NELEM(given_chars)

/* E-mail domains and their weights; "qq.com" must stay first. */
static const char *const email_domains[] = {
	"qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com"
};
static const unsigned short email_domain_weight[] = { 30, 25, 10, 5, 12, 18 };
#define NDOMAINS	NELEM(email_domains)

/* UnionPay issuer prefixes (ICBC, CCB, ABC, BOC, CMB, ...). */
static const char *const card_bins[] = {
	"622202", "621700", "622848", "621661", "622588", "623058",
	"621226", "622700", "621483", "622609"
};
#define NBINS		NELEM(card_bins)

static const unsigned char ip_public_first[] = {
	58, 61, 106, 112, 117, 119, 120, 121, 123, 180, 183, 202, 211, 218,
	220, 221, 222, 223
};

/*
 * Note templates carry placeholders, '$' and a letter, expanded with fresh
 * values: $b blood pressure 145/90, $t temperature 38.5, $d 2-9 (days),
 * $w 2-8 (weeks), $x 4.5-12.9 (a lab value), $p 1-10 (pain score), and
 * planted personal data: $P mobile number, $I resident ID number,
 * $E e-mail address, $C bank card number, $N IPv4 address.
 *
 * Sentences about the diagnosis, NULL-terminated per row:
 */
static const char *const diag_notes[NDIAG][5] = {
	[D_J45] = { "患者主诉反复喘息$d天，夜间加重",
	    "予沙丁胺醇雾化吸入",
	    "Wheezing on auscultation, inhaler technique reviewed",
	    "Peak flow reduced, started inhaled budesonide", NULL },
	[D_E11] = { "空腹血糖$xmmol/L，调整二甲双胍剂量",
	    "HbA1c $x%, metformin dose adjusted",
	    "糖尿病足筛查未见异常",
	    "Diet and exercise counselling given", NULL },
	[D_I10] = { "血压$bmmHg，建议低盐饮食",
	    "BP $b, advised low-salt diet",
	    "继续服用氨氯地平5mg每日一次",
	    "Home BP log reviewed, amlodipine continued", NULL },
	[D_J18] = { "发热$t℃，咳嗽咳痰$d天",
	    "听诊右下肺可闻及湿啰音",
	    "Chest X-ray: right lower lobe infiltrate",
	    "Started ceftriaxone, recheck CBC in $d days", NULL },
	[D_K29] = { "上腹部隐痛$d天，饭后加重",
	    "胃镜示慢性浅表性胃炎",
	    "Epigastric pain, H. pylori breath test ordered",
	    "予奥美拉唑口服$w周", NULL },
	[D_M54] = { "腰痛加重$d天，活动受限",
	    "Low back pain $p/10, no radicular signs",
	    "建议理疗及核心肌群锻炼",
	    "Lumbar MRI requested, NSAIDs for $d days", NULL },
	[D_N39] = { "尿频尿急尿痛$d天",
	    "尿常规示白细胞升高",
	    "Urinalysis positive for nitrites, started nitrofurantoin",
	    NULL },
	[D_I25] = { "活动后胸闷气短，休息后缓解",
	    "心电图示ST段压低",
	    "Stable angina, continue aspirin and statin",
	    "Exercise stress test scheduled", NULL },
	[D_E78] = { "血脂偏高，LDL $xmmol/L",
	    "Lipid panel ordered, LDL $x mmol/L",
	    "建议低脂饮食，继续阿托伐他汀", NULL },
	[D_F32] = { "患者情绪低落，睡眠差$w周",
	    "PHQ-9 reviewed, sertraline started at 50 mg",
	    "建议心理科随访", NULL },
	[D_J06] = { "患者主诉咳嗽$d天，咽痛",
	    "Sore throat and runny nose for $d days",
	    "体温$t℃，予对症处理",
	    "Viral URI, fluids and rest advised", NULL },
	[D_K21] = { "反酸烧心$w周，夜间明显",
	    "Heartburn after meals, PPI trial for $w weeks",
	    "建议睡前3小时内避免进食", NULL },
	[D_M17] = { "膝关节疼痛，上下楼梯困难",
	    "Knee X-ray: joint space narrowing, pain $p/10",
	    "建议减重及股四头肌锻炼", NULL },
	[D_I63] = { "突发左侧肢体无力$d小时",
	    "头颅CT未见出血，收入神经内科",
	    "NIHSS assessed, started antiplatelet therapy",
	    "Rehabilitation referral, speech therapy", NULL },
	[D_C34] = { "CT示右肺下叶占位，建议活检",
	    "化疗第$d周期，耐受可",
	    "Cycle $d chemotherapy, tolerated well",
	    "PET-CT ordered for staging", NULL },
	[D_O80] = { "足月顺产一女婴，母婴平安",
	    "足月顺产一男婴，母婴平安",
	    "Spontaneous vaginal delivery, no complications",
	    "产后$d天复查，恢复良好", NULL },
	[D_Z00] = { "常规体检，未见明显异常",
	    "Routine check-up, no abnormal findings",
	    "建议每年体检一次", NULL },
};

static const char *const general_notes[] = {
	"无药物过敏史",
	"No known drug allergies",
	"Follow-up in $w weeks",
	"$w周后复诊",
	"嘱患者按时服药",
	"家属陪同就诊",
	"Patient counselled on smoking cessation",
	"建议复查血常规",
	"Referred to specialist clinic",
	"Medication reconciled, no changes",
	"Allergic to penicillin, rash in 2019",
	"患者对青霉素过敏",
	"已签署知情同意书",
	"Vitals stable, BP $b",
};

static const char *const quote_notes[] = {
	"患者称\"没事\"，拒绝进一步检查",
	"Patient says \"feels fine\", declined further tests",
	"家属表示\"会按时复诊\"",
	"Patient described the pain as \"sharp, stabbing\"",
};

static const char *const phone_notes[] = {
	"患者电话$P",
	"家属电话：$P",
	"Contact daughter at $P",
	"Callback number $P",
	"如有不适请联系 $P",
	"Son's mobile: $P",
};

static const char *const id_notes[] = {
	"家属身份证号$I",
	"ID $I verified at registration",
	"身份证号码：$I",
	"Guardian ID $I",
};

static const char *const email_notes[] = {
	"检查报告已发送至 $E",
	"Send results to $E",
	"Patient email: $E",
	"家属邮箱 $E",
};

static const char *const card_notes[] = {
	"医保关联银行卡 $C",
	"Paid by card $C",
	"退费至银行卡号$C",
	"Refund to UnionPay card $C",
};

static const char *const ip_notes[] = {
	"报告由终端 $N 上传",
	"Telemedicine session from $N",
	"Remote consult, client IP $N",
};

static const char csv_header[] = "patient_id,name,id_number,phone,email,sex,"
    "birth_date,postal_code,visit_date,diagnosis,cost,readmitted,notes\n";

static const char usage_text[] =
    "usage: clinic-gen --rows N [--seed S] [--out FILE]\n";

static int32_t	 day_first, day_last;	/* the visit window */

static void	 rng_seed(struct rng *, uint64_t);
static uint64_t	 rng_next(struct rng *);
static uint32_t	 rng_below(struct rng *, uint32_t);
static int	 rng_chance(struct rng *, unsigned int);
static unsigned int rng_weighted(struct rng *, const unsigned short *,
		    size_t);
static int32_t	 days_from_civil(int, int, int);
static void	 civil_from_days(int32_t, int *, int *, int *);
static char	*put_str(char *, const char *);
static char	*put_uint(char *, uint64_t, int);
static char	*put_date(char *, int, int, int);
static void	 id_make(char *, const char *, int, int, int, unsigned int);
static unsigned int id_seq(struct rng *, int);
static void	 id_random(struct rng *, char *);
static void	 phone_random(struct rng *, char *);
static char	*put_phone(struct rng *, char *, const char *);
static char	*put_handle(struct rng *, char *, const struct patient *);
static void	 email_make(struct rng *, char *, const struct patient *);
static char	*put_card(struct rng *, char *);
static char	*put_ip(struct rng *, char *);
static const struct hanzi *given_pick(struct rng *, int);
static void	 patient_make(struct rng *, struct patient *, uint32_t,
		    int32_t);
static int	 diag_pick(struct rng *, const struct patient *, int);
static uint64_t	 cost_cents(struct rng *, int);
static double	 xexp(double);
static char	*expand(struct rng *, const struct patient *, const char *,
		    char *);
static size_t	 notes_make(struct rng *, const struct patient *, int,
		    char *, int *);
static char	*put_quoted(char *, const char *, size_t);
static int	 out_flush(struct out *);
static int	 generate(struct out *, uint64_t, uint64_t);
static int	 parse_u64(const char *, uint64_t *);
static _Noreturn void usage_error(const char *, const char *);

/* {====== random numbers ====== */

/* splitmix64 expands the seed into xoshiro256** state, never all zero. */
static void
rng_seed(struct rng *r, uint64_t seed)
{
	uint64_t z;
	int i;

	for (i = 0; i < 4; i++) {
		z = (seed += UINT64_C(0x9e3779b97f4a7c15));
		z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
		r->s[i] = z ^ (z >> 31);
	}
}

static uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t x = s[1] * 5, t = s[1] << 17;
	uint64_t res = ((x << 7) | (x >> 57)) * 9;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return res;
}

/* Uniform in [0, n) without modulo bias (Lemire's multiply-and-reject). */
static uint32_t
rng_below(struct rng *r, uint32_t n)
{
	uint64_t m;
	uint32_t lo, thresh;

	assert(n > 0);
	m = (rng_next(r) >> 32) * n;
	lo = (uint32_t)m;
	if (lo < n) {
		thresh = -n % n;
		while (lo < thresh) {
			m = (rng_next(r) >> 32) * n;
			lo = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

static int
rng_chance(struct rng *r, unsigned int permille)
{
	return rng_below(r, 1000) < permille;
}

static unsigned int
rng_weighted(struct rng *r, const unsigned short *w, size_t n)
{
	uint32_t total = 0, x;
	size_t i;

	for (i = 0; i < n; i++)
		total += w[i];
	x = rng_below(r, total);
	for (i = 0; x >= w[i]; i++)
		x -= w[i];
	return (unsigned int)i;
}

/* }====== */

/* {====== dates: proleptic Gregorian, days since 1970-01-01 ====== */

static int32_t
days_from_civil(int y, int m, int d)
{
	int era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int32_t z, int *yp, int *mp, int *dp)
{
	int era, doe, yoe, doy, mo, y;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mo = (5 * doy + 2) / 153;
	*dp = doy - (153 * mo + 2) / 5 + 1;
	*mp = mo < 10 ? mo + 3 : mo - 9;
	*yp = y + (*mp <= 2);
}

/* }====== */

/* {====== formatting into a buffer known to be big enough ====== */

static char *
put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* Decimal, zero-padded to at least width digits. */
static char *
put_uint(char *p, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n < width)
		tmp[n++] = '0';
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static char *
put_date(char *p, int y, int m, int d)
{
	p[0] = (char)('0' + y / 1000);
	p[1] = (char)('0' + y / 100 % 10);
	p[2] = (char)('0' + y / 10 % 10);
	p[3] = (char)('0' + y % 10);
	p[4] = '-';
	p[5] = (char)('0' + m / 10);
	p[6] = (char)('0' + m % 10);
	p[7] = '-';
	p[8] = (char)('0' + d / 10);
	p[9] = (char)('0' + d % 10);
	return p + 10;
}

/*
 * Writes field s of n bytes, quoted: RFC 4180 requires it when the field
 * holds a comma, a double quote, CR or LF, and the caller knows if it does.
 */
static char *
put_quoted(char *p, const char *s, size_t n)
{
	size_t i;

	*p++ = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			*p++ = '"';
		*p++ = s[i];
	}
	*p++ = '"';
	return p;
}

/* }====== */

/* {====== identifiers ====== */

/* An 18-character resident ID number with its GB 11643-1999 check. */
static void
id_make(char *id, const char *region, int y, int m, int d, unsigned int seq)
{
	static const int w[17] = {
		7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2
	};
	char *p;
	int i, sum = 0;

	memcpy(id, region, 6);
	p = put_uint(id + 6, (uint64_t)y, 4);
	p = put_uint(p, (uint64_t)m, 2);
	p = put_uint(p, (uint64_t)d, 2);
	p = put_uint(p, seq, 3);
	assert(p == id + 17);
	for (i = 0; i < 17; i++)
		sum += (id[i] - '0') * w[i];
	id[17] = "10X98765432"[sum % 11];
	id[18] = '\0';
}

/* A sequence number whose last digit is odd for men, even for women. */
static unsigned int
id_seq(struct rng *r, int male)
{
	unsigned int seq;

	/* Separate statements: argument and operand order is unspecified. */
	seq = rng_below(r, 100) * 10;
	seq += rng_below(r, 5) * 2 + (male ? 1 : 0);
	return seq == 0 ? 10 : seq;
}

/* Someone else's ID number: a relative or guardian born 1940-2005. */
static void
id_random(struct rng *r, char *id)
{
	int32_t lo = days_from_civil(1940, 1, 1);
	int32_t hi = days_from_civil(2005, 12, 31);
	unsigned int reg, seq;
	int y, m, d;

	civil_from_days(lo + (int32_t)rng_below(r, (uint32_t)(hi - lo + 1)),
	    &y, &m, &d);
	reg = rng_below(r, NREGIONS);
	seq = id_seq(r, (int)rng_below(r, 2));
	id_make(id, regions[reg].code, y, m, d, seq);
}

static void
phone_random(struct rng *r, char *buf)
{
	char *p;

	p = put_uint(buf, phone_prefixes[rng_below(r, NPHONEPFX)], 3);
	p = put_uint(p, rng_below(r, 100000000), 8);
	*p = '\0';
}

/* An 11-digit number as written by hand: plain, 3-4-4 groups, or +86. */
static char *
put_phone(struct rng *r, char *p, const char *ph)
{
	uint32_t style = rng_below(r, 100);

	if (style < 5)
		p = put_str(p, "+86 ");
	if (style < 60)
		return put_str(p, ph);
	memcpy(p, ph, 3);
	p[3] = style < 80 ? '-' : ' ';
	memcpy(p + 4, ph + 3, 4);
	p[8] = p[3];
	memcpy(p + 9, ph + 7, 4);
	return p + 13;
}

/* A lowercase e-mail handle, pinyin-based when there is a patient. */
static char *
put_handle(struct rng *r, char *p, const struct patient *pt)
{
	uint32_t style, i, n, lim = 100;
	int k;

	style = pt != NULL ? rng_below(r, 100) : 99;
	if (style < 35) {
		p = put_str(p, pt->sur->py);
		for (k = 0; k < pt->ngiven; k++)
			p = put_str(p, pt->given[k]->py);
	} else if (style < 55) {
		for (k = 0; k < pt->ngiven; k++)
			p = put_str(p, pt->given[k]->py);
		if (rng_below(r, 2))
			*p++ = rng_below(r, 2) ? '.' : '_';
		p = put_str(p, pt->sur->py);
	} else if (style < 70) {
		*p++ = pt->sur->py[0];
		for (k = 0; k < pt->ngiven; k++)
			*p++ = pt->given[k]->py[0];
		lim = 55;	/* initials alone are too short: add digits */
	} else {
		n = 5 + rng_below(r, 5);
		for (i = 0; i < n; i++)
			*p++ = (char)('a' + rng_below(r, 26));
	}
	style = rng_below(r, lim);
	if (style < 30 && pt != NULL)
		p = put_uint(p, (uint64_t)pt->by, 4);
	else if (style < 55)
		p = put_uint(p, rng_below(r, 100), 2);
	else if (style < 70)
		p = put_uint(p, 100 + rng_below(r, 9900), 3);
	return p;
}

static void
email_make(struct rng *r, char *buf, const struct patient *pt)
{
	unsigned int dom;
	char *p = buf;

	dom = rng_weighted(r, email_domain_weight, NDOMAINS);
	if (dom == 0 && rng_below(r, 100) < 65)
		p = put_uint(p, 10000 + rng_below(r, 2147473647), 5);
	else
		p = put_handle(r, p, pt);
	*p++ = '@';
	p = put_str(p, email_domains[dom]);
	*p = '\0';
}

/* A 16- or 19-digit UnionPay number with a valid Luhn check digit. */
static char *
put_card(struct rng *r, char *p)
{
	char num[20];
	int len, i, d, sum = 0;

	len = rng_below(r, 100) < 35 ? 16 : 19;
	memcpy(num, card_bins[rng_below(r, NBINS)], 6);
	for (i = 6; i < len - 1; i++)
		num[i] = (char)('0' + rng_below(r, 10));
	/* The digit left of the check digit is the first one doubled. */
	for (i = len - 2; i >= 0; i--) {
		d = num[i] - '0';
		if ((len - 2 - i) % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	num[len - 1] = (char)('0' + (10 - sum % 10) % 10);
	if (rng_below(r, 100) < 35) {
		for (i = 0; i < len; i++) {
			if (i > 0 && i % 4 == 0)
				*p++ = ' ';
			*p++ = num[i];
		}
		return p;
	}
	memcpy(p, num, (size_t)len);
	return p + len;
}

static char *
put_ip(struct rng *r, char *p)
{
	uint32_t kind = rng_below(r, 100);

	if (kind < 40)
		p = put_str(p, "192.168.");
	else if (kind < 60) {
		p = put_str(p, "10.");
		p = put_uint(p, rng_below(r, 256), 1);
		*p++ = '.';
	} else {
		p = put_uint(p, ip_public_first[rng_below(r,
		    NELEM(ip_public_first))], 1);
		*p++ = '.';
		p = put_uint(p, rng_below(r, 256), 1);
		*p++ = '.';
	}
	p = put_uint(p, rng_below(r, 256), 1);
	*p++ = '.';
	return put_uint(p, 1 + rng_below(r, 254), 1);
}

/* }====== */

/* {====== patients and visits ====== */

static const struct hanzi *
given_pick(struct rng *r, int male)
{
	const struct hanzi *h;

	do {
		h = &given_chars[rng_below(r, NGIVEN)];
	} while (h->sex == (male ? 'F' : 'M'));
	return h;
}

/*
 * Makes patient number num, first seen on day first, and renders the
 * per-patient columns of the row into pt->prefix.
 */
static void
patient_make(struct rng *r, struct patient *pt, uint32_t num, int32_t first)
{
	static const unsigned short age_weight[] = { 16, 30, 28, 26 };
	static const unsigned char age_lo[] = { 0, 15, 45, 65 };
	static const unsigned char age_n[] = { 15, 30, 20, AGE_MAX - 64 };
	int32_t lo, hi;
	int fy, fm, fd, age, k;
	unsigned int g;
	char *p;

	pt->num = num;
	pt->male = rng_below(r, 100) < 48;
	g = rng_weighted(r, age_weight, NELEM(age_weight));
	age = age_lo[g] + (int)rng_below(r, age_n[g]);
	if (g == 3) {		/* fewer of the very old */
		k = age_lo[g] + (int)rng_below(r, age_n[g]);
		age = k < age ? k : age;
	}
	civil_from_days(first, &fy, &fm, &fd);
	lo = days_from_civil(fy - age - 1, fm, fd) + 1;
	hi = days_from_civil(fy - age, fm, fd);
	if (hi > first - 1)
		hi = first - 1;
	pt->birth = lo + (int32_t)rng_below(r, (uint32_t)(hi - lo + 1));
	civil_from_days(pt->birth, &pt->by, &pt->bm, &pt->bd);

	pt->region = (int)rng_below(r, NREGIONS);
	id_make(pt->idnum, regions[pt->region].code, pt->by, pt->bm, pt->bd,
	    id_seq(r, pt->male));
	phone_random(r, pt->phone);

	if (rng_below(r, 100) < 1)
		pt->sur = &compound_surnames[rng_below(r, NCOMPOUND)];
	else {
		/* The smaller of two draws favours the common names. */
		g = rng_below(r, NSURNAMES);
		k = (int)rng_below(r, NSURNAMES);
		pt->sur = &surnames[(int)g < k ? (int)g : k];
	}
	pt->ngiven = rng_below(r, 100) < 25 ? 1 : 2;
	for (k = 0; k < pt->ngiven; k++)
		pt->given[k] = given_pick(r, pt->male);
	if (rng_below(r, 100) < 10)
		pt->email[0] = '\0';
	else
		email_make(r, pt->email, pt);

	p = pt->prefix;
	*p++ = 'P';
	p = put_uint(p, num, 7);
	*p++ = ',';
	p = put_str(p, pt->sur->ch);
	for (k = 0; k < pt->ngiven; k++)
		p = put_str(p, pt->given[k]->ch);
	*p++ = ',';
	p = put_str(p, pt->idnum);
	*p++ = ',';
	p = put_str(p, pt->phone);
	*p++ = ',';
	p = put_str(p, pt->email);
	*p++ = ',';
	*p++ = pt->male ? 'M' : 'F';
	*p++ = ',';
	p = put_date(p, pt->by, pt->bm, pt->bd);
	*p++ = ',';
	p = put_str(p, regions[pt->region].postal);
	*p++ = ',';
	pt->prefixlen = (size_t)(p - pt->prefix);
	assert(pt->prefixlen < sizeof(pt->prefix));
}

static int
diag_pick(struct rng *r, const struct patient *pt, int age)
{
	int g, d;

	g = age < 15 ? 0 : age < 45 ? 1 : age < 65 ? 2 : 3;
	do {
		d = (int)rng_weighted(r, diag_weight[g], NDIAG);
	} while (d == D_O80 && pt->male);
	return d;
}

/*
 * exp(x) for |x| < 4: a degree-8 Taylor polynomial of x/16, squared four
 * times; relative error below 1e-10, and no libm.
 */
static double
xexp(double x)
{
	double y = x / 16, e;
	int i;

	e = 1 + y * (1 + y * (1.0 / 2 + y * (1.0 / 6 + y * (1.0 / 24 +
	    y * (1.0 / 120 + y * (1.0 / 720 + y * (1.0 / 5040 +
	    y * (1.0 / 40320))))))));
	for (i = 0; i < 4; i++)
		e *= e;
	return e;
}

/*
 * Lognormal-ish cost in fen: the median times exp(sigma * z), where z is
 * a unit-variance sum of four uniforms (tails cut at 3.46).
 */
static uint64_t
cost_cents(struct rng *r, int d)
{
	uint64_t a = rng_next(r), b = rng_next(r);
	double z, c;

	z = (double)(a >> 32) + (double)(a & 0xffffffff) +
	    (double)(b >> 32) + (double)(b & 0xffffffff);
	z = (z / 4294967296.0 - 2.0) * 1.7320508075688772;
	c = cost_median[d] * 100.0 * xexp(cost_sigma[d] / 100.0 * z);
	if (c < 2000)
		return 2000 + rng_below(r, 500);
	if (c > 9999999)
		return 9999999;
	return (uint64_t)(c + 0.5);
}

/* }====== */

/* {====== notes ====== */

/* Copies template t to p, expanding the $ placeholders. */
static char *
expand(struct rng *r, const struct patient *pt, const char *t, char *p)
{
	char tmp[24];
	uint32_t v;

	for (; *t != '\0'; t++) {
		if (*t != '$') {
			*p++ = *t;
			continue;
		}
		switch (*++t) {
		case 'b':
			p = put_uint(p, 110 + rng_below(r, 76), 1);
			*p++ = '/';
			p = put_uint(p, 65 + rng_below(r, 46), 1);
			break;
		case 't':
		case 'x':
			v = *t == 't' ? 373 + rng_below(r, 30) :
			    45 + rng_below(r, 85);
			p = put_uint(p, v / 10, 1);
			*p++ = '.';
			p = put_uint(p, v % 10, 1);
			break;
		case 'd':
			p = put_uint(p, 2 + rng_below(r, 8), 1);
			break;
		case 'w':
			p = put_uint(p, 2 + rng_below(r, 7), 1);
			break;
		case 'p':
			p = put_uint(p, 1 + rng_below(r, 10), 1);
			break;
		case 'P':
			if (rng_below(r, 2))
				p = put_phone(r, p, pt->phone);
			else {
				phone_random(r, tmp);
				p = put_phone(r, p, tmp);
			}
			break;
		case 'I':
			if (rng_below(r, 100) < 40)
				p = put_str(p, pt->idnum);
			else {
				id_random(r, tmp);
				p = put_str(p, tmp);
			}
			break;
		case 'E':
			if (pt->email[0] != '\0' && rng_below(r, 2))
				p = put_str(p, pt->email);
			else {
				email_make(r, p, NULL);
				p += strlen(p);
			}
			break;
		case 'C':
			p = put_card(r, p);
			break;
		case 'N':
			p = put_ip(r, p);
			break;
		default:
			assert(0 && "bad placeholder in a note template");
			break;
		}
	}
	return p;
}

/*
 * Writes the doctor's notes for one visit to out (NOTE_MAX bytes) and
 * returns their length, 0 for none; *quotep says whether the CSV field
 * must be quoted. One to three ordinary sentences, then planted quotes and
 * personal data at random places among them. Placeholders never expand to
 * a comma or a quote, so the templates alone decide.
 */
static size_t
notes_make(struct rng *r, const struct patient *pt, int d, char *out,
    int *quotep)
{
	static const unsigned short nsent_weight[] = { 50, 35, 15 };
	char sent[NOTE_SLOTS][SENT_MAX];
	size_t len[NOTE_SLOTS];
	int zh[NOTE_SLOTS], order[NOTE_SLOTS];
	const char *t;
	char *p;
	int n = 0, nbase, i, j, pos, nl = 0, prevzh = 0;
	size_t ndn;

	*quotep = 0;
	if (rng_below(r, 100) >= 60)
		return 0;

	for (ndn = 0; diag_notes[d][ndn] != NULL; ndn++)
		;
	nbase = 1 + (int)rng_weighted(r, nsent_weight, NELEM(nsent_weight));
	if (rng_below(r, 1000) < 17) {
		nl = 1;		/* an embedded newline needs two sentences */
		if (nbase < 2)
			nbase = 2;
	}
	for (i = 0; i < NOTE_SLOTS; i++)
		order[i] = i;
	for (i = 0; i < nbase + 6 && n < NOTE_SLOTS; i++) {
		t = NULL;
		if (i < nbase) {
			if (i == 0 && rng_below(r, 100) < 80)
				t = diag_notes[d][rng_below(r, (uint32_t)ndn)];
			else
				t = general_notes[rng_below(r,
				    NELEM(general_notes))];
		} else if (i == nbase && rng_chance(r, 50))
			t = quote_notes[rng_below(r, NELEM(quote_notes))];
		else if (i == nbase + 1 && rng_chance(r, 120))
			t = phone_notes[rng_below(r, NELEM(phone_notes))];
		else if (i == nbase + 2 && rng_chance(r, 100))
			t = id_notes[rng_below(r, NELEM(id_notes))];
		else if (i == nbase + 3 && rng_chance(r, 90))
			t = email_notes[rng_below(r, NELEM(email_notes))];
		else if (i == nbase + 4 && rng_chance(r, 100))
			t = card_notes[rng_below(r, NELEM(card_notes))];
		else if (i == nbase + 5 && rng_chance(r, 40))
			t = ip_notes[rng_below(r, NELEM(ip_notes))];
		if (t == NULL)
			continue;
		p = expand(r, pt, t, sent[n]);
		len[n] = (size_t)(p - sent[n]);
		assert(len[n] < SENT_MAX);
		zh[n] = 0;
		for (j = 0; t[j] != '\0'; j++) {
			if ((unsigned char)t[j] >= 0x80)
				zh[n] = 1;
			else if (t[j] == ',' || t[j] == '"')
				*quotep = 1;
		}
		if (i >= nbase) {	/* move the extra to a random place */
			pos = (int)rng_below(r, (uint32_t)n + 1);
			memmove(&order[pos + 1], &order[pos],
			    (size_t)(n - pos) * sizeof(order[0]));
			order[pos] = n;
		}
		n++;
	}
	if (nl) {
		nl = 1 + (int)rng_below(r, (uint32_t)n - 1);
		*quotep = 1;
	}

	p = out;
	for (i = 0; i < n; i++) {
		j = order[i];
		if (i > 0 && i == nl)
			*p++ = '\n';
		else if (i > 0 && !(prevzh && zh[j]))
			*p++ = ' ';
		memcpy(p, sent[j], len[j]);
		p += len[j];
		p = put_str(p, zh[j] ? "。" : ".");
		prevzh = zh[j];
	}
	assert((size_t)(p - out) < NOTE_MAX);
	return (size_t)(p - out);
}

/* }====== */

/* {====== output ====== */

static int
out_flush(struct out *o)
{
	if (o->len > 0 && fwrite(o->buf, 1, o->len, o->fp) != o->len)
		return -1;
	o->len = 0;
	return 0;
}

/* Writes the header and nrows visit rows. Returns 0, or -1 on I/O error. */
static int
generate(struct out *o, uint64_t nrows, uint64_t seed)
{
	struct rng r;
	struct patient pt;
	char notes[NOTE_MAX];
	int32_t day[VISITS_MAX], span;
	uint32_t num = 0;
	uint64_t left = nrows, c;
	unsigned int nv, v;
	int vy, vm, vd, age, d = 0, quote;
	size_t nlen;
	char *p;

	rng_seed(&r, seed);
	memcpy(o->buf, csv_header, sizeof(csv_header) - 1);
	o->len = sizeof(csv_header) - 1;
	while (left > 0) {
		nv = 1 + rng_weighted(&r, visit_weight, VISITS_MAX);
		if (nv > left)
			nv = (unsigned int)left;
		/* Gaps first, so that the whole span fits in the window. */
		day[0] = 0;
		for (v = 1; v < nv; v++) {
			day[v] = day[v - 1] + (int32_t)(rng_below(&r, 2) ?
			    rng_below(&r, 15) : rng_below(&r, 180));
			if (day[v] > day_last - day_first)
				day[v] = day_last - day_first;
		}
		span = day[nv - 1];
		day[0] = day_first + (int32_t)rng_below(&r,
		    (uint32_t)(day_last - day_first - span + 1));
		for (v = 1; v < nv; v++)
			day[v] += day[0];
		num += 1 + rng_below(&r, 2);
		patient_make(&r, &pt, num, day[0]);

		for (v = 0; v < nv; v++) {
			if (OUTBUF_SIZE - o->len < ROW_MAX &&
			    out_flush(o) == -1)
				return -1;
			civil_from_days(day[v], &vy, &vm, &vd);
			age = vy - pt.by -
			    (vm * 100 + vd < pt.bm * 100 + pt.bd);
			if (v == 0 || !diag_chronic[d] ||
			    rng_below(&r, 100) >= 55)
				d = diag_pick(&r, &pt, age);
			c = cost_cents(&r, d);
			nlen = notes_make(&r, &pt, d, notes, &quote);

			p = o->buf + o->len;
			memcpy(p, pt.prefix, pt.prefixlen);
			p += pt.prefixlen;
			p = put_date(p, vy, vm, vd);
			*p++ = ',';
			p = put_str(p, diagnoses[d]);
			*p++ = ',';
			p = put_uint(p, c / 100, 1);
			*p++ = '.';
			p = put_uint(p, c % 100, 2);
			p = put_str(p, rng_below(&r, 1000) < readmit_pm[d] ?
			    ",true," : ",false,");
			if (quote)
				p = put_quoted(p, notes, nlen);
			else {
				memcpy(p, notes, nlen);
				p += nlen;
			}
			*p++ = '\n';
			o->len = (size_t)(p - o->buf);
			assert(o->len <= OUTBUF_SIZE);
		}
		left -= nv;
	}
	return out_flush(o);
}

/* }====== */

/* Digits only: no sign, no blanks, no overflow. */
static int
parse_u64(const char *s, uint64_t *vp)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*vp = v;
	return 0;
}

static _Noreturn void
usage_error(const char *what, const char *arg)
{
	if (arg != NULL)
		fprintf(stderr, "clinic-gen: %s: \"%s\"\n", what, arg);
	else
		fprintf(stderr, "clinic-gen: %s\n", what);
	fputs(usage_text, stderr);
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct out o = { NULL, NULL, 0 };
	const char *path = NULL;
	uint64_t rows = 0, seed = 1;
	int i, have_rows = 0, rc = 1;

	for (i = 1; i < argc; i += 2) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--rows") != 0 &&
		    strcmp(argv[i], "--seed") != 0 &&
		    strcmp(argv[i], "--out") != 0)
			usage_error("unknown argument", argv[i]);
		if (i + 1 >= argc)
			usage_error("option needs a value", argv[i]);
		if (strcmp(argv[i], "--rows") == 0) {
			if (parse_u64(argv[i + 1], &rows) == -1 ||
			    rows < 1 || rows > ROWS_MAX)
				usage_error("--rows must be an integer from 1 "
				    "to 100000000", argv[i + 1]);
			have_rows = 1;
		} else if (strcmp(argv[i], "--seed") == 0) {
			if (parse_u64(argv[i + 1], &seed) == -1)
				usage_error("--seed must be an integer from 0 "
				    "to 18446744073709551615", argv[i + 1]);
		} else {
			if (argv[i + 1][0] == '\0')
				usage_error("--out needs a file name", NULL);
			path = argv[i + 1];
		}
	}
	if (!have_rows)
		usage_error("--rows is required", NULL);

	day_first = days_from_civil(2023, 1, 1);
	day_last = days_from_civil(2025, 12, 31);
	if ((o.buf = malloc(OUTBUF_SIZE)) == NULL) {
		fprintf(stderr, "clinic-gen: out of memory\n");
		goto out;
	}
	if (path == NULL || strcmp(path, "-") == 0) {
		o.fp = stdout;
		path = "<stdout>";
	} else if ((o.fp = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "clinic-gen: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (generate(&o, rows, seed) == -1 || fflush(o.fp) == EOF ||
	    ferror(o.fp)) {
		fprintf(stderr, "clinic-gen: %s: %s\n", path, strerror(errno));
		goto out;
	}
	rc = 0;
 out:
	if (o.fp != NULL && o.fp != stdout && fclose(o.fp) == EOF && rc == 0) {
		fprintf(stderr, "clinic-gen: %s: %s\n", path, strerror(errno));
		rc = 1;
	}
	free(o.buf);
	return rc;
}
