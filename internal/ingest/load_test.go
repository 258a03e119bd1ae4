package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

func residentCSV(idList []string, header string) string {
	var b strings.Builder
	b.WriteString(header + "\n")
	for i, id := range idList {
		fmt.Fprintf(&b, "%s,居民%d,%d,1980-01-%02d,%d,0592-%07d\n", id, i, 1+i%2, 1+i%28, 1+i%5, i)
	}
	return b.String()
}

// R-AGG-1, R-AGG-3: a full replace, an incremental upsert and a delete by
// key, over CSV (headers by Chinese label), NDJSON and JSON; each record
// carries its org, batch, source row and load time; each batch is a collect
// then a store event with counts and the content hash.
func TestLoadReplaceUpsertDelete(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.residents()
		st := steward("gaj")
		idl := ids(10)
		csv := residentCSV(idl, "公民身份号码,姓名,性别,出生日期,户内人数,联系方式")
		b := e.load(st, r.Code, csv, LoadInput{Mode: Replace, Format: CSV, Source: "residents.csv"})
		if b.Status != BatchApplied || b.RowsRead != 10 || b.Inserted != 10 || b.RowsTotal != 10 || b.RowsRejected != 0 {
			t.Fatalf("replace: %+v", b)
		}
		rows := e.rows(r.ID)
		if len(rows) != 10 || rows[idl[3]]["full_name"] != "居民3" || rows[idl[3]]["gender"] != "2" || rows[idl[3]]["birth_date"] != "1980-01-04" || rows[idl[3]]["household_size"] != "4" {
			t.Fatalf("rows: %v", rows[idl[3]])
		}
		lin, err := e.s.Lineage(e.ctx, st, r.ID, map[string]string{"id_card": idl[3]})
		if err != nil {
			t.Fatal(err)
		}
		if lin.BatchID != b.ID || lin.OrgID != "gaj" || lin.SourceRow != 5 || lin.Source != "residents.csv" || lin.ContentHash != b.ContentHash || lin.LoadedAt.IsZero() {
			t.Fatalf("lineage: %+v", lin)
		}
		// Upsert: one change, one new record, by NDJSON with field names and labels.
		nd := fmt.Sprintf(`{"id_card":%q,"full_name":"改名","性别":"女"}`+"\n\n"+`{"id_card":%q,"full_name":"新人","household_size":3}`+"\n", idl[0], ids(11)[10])
		b2 := e.load(st, r.ID, nd, LoadInput{Mode: Upsert, Format: NDJSON})
		if b2.Status != BatchApplied || b2.Updated != 1 || b2.Inserted != 1 || b2.RowsTotal != 11 {
			t.Fatalf("upsert: %+v", b2)
		}
		rows = e.rows(r.ID)
		if rows[idl[0]]["full_name"] != "改名" || rows[idl[0]]["gender"] != "2" || rows[idl[0]]["household_size"] != "" {
			t.Fatalf("upserted row: %v", rows[idl[0]])
		}
		// Delete by key, JSON wrapped in records.
		js := fmt.Sprintf(`{"records":[{"id_card":%q},{"公民身份号码":%q}]}`, idl[1], idl[2])
		b3 := e.load(st, r.ID, js, LoadInput{Mode: Delete, Format: JSON})
		if b3.Status != BatchApplied || b3.Deleted != 2 || b3.RowsTotal != 9 {
			t.Fatalf("delete: %+v", b3)
		}
		if rows = e.rows(r.ID); len(rows) != 9 || rows[idl[1]] != nil {
			t.Fatalf("after delete: %d rows", len(rows))
		}
		ds, _ := e.s.Dataset(e.ctx, st, r.ID)
		if ds.Rows != 9 || ds.ActiveBatch != b3.ID {
			t.Fatalf("dataset: %+v", ds)
		}
		// Ledger: collect then store per batch, with counts and hash.
		var acts []string
		for _, ev := range e.events(r.ID) {
			if ev.Action == ledger.Collect || ev.Action == ledger.Store || ev.Action == ledger.Delete {
				acts = append(acts, string(ev.Action))
				if ev.ContentHash == "" {
					t.Fatalf("event without content hash: %+v", ev)
				}
			}
		}
		if got := strings.Join(acts, ","); got != "collect,store,collect,store,collect,store,delete" {
			t.Fatalf("ledger: %s", got)
		}
	})
}

// R-AGG-1: CSV in GBK and GB18030, with or without a UTF-8 BOM, and with
// semicolons, tabs or bars, is detected and loaded.
func TestCSVEncodingsAndDelimiters(t *testing.T) {
	idl := ids(4)
	utf := residentCSV(idl, "id_card,full_name,gender,birth_date,household_size,contact")
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(strings.ReplaceAll(utf, ",", ";"))
	if err != nil {
		t.Fatal(err)
	}
	// 𠀀 (U+20000) needs GB18030's four-byte form.
	g18, err := simplifiedchinese.GB18030.NewEncoder().String(strings.ReplaceAll(strings.ReplaceAll(utf, "居民1", "居民𠀀"), ",", "\t"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, body, enc string
		delim           rune
		want1           string
	}{
		{"utf8", utf, EncUTF8, ',', "居民1"},
		{"utf8-bom", "\xEF\xBB\xBF" + strings.ReplaceAll(utf, ",", "|"), EncUTF8, '|', "居民1"},
		{"gbk", gbk, EncGBK, ';', "居民1"},
		{"gb18030", g18, EncGB18030, '\t', "居民𠀀"},
	}
	for _, c := range cases {
		src, err := newCSVSource(strings.NewReader(c.body), c.name+".csv", "", "")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if src.encoding != c.enc || src.delim != c.delim {
			t.Fatalf("%s: detected %s %q", c.name, src.encoding, src.delim)
		}
		if h := src.header(); len(h) != 6 || h[0] != "id_card" {
			t.Fatalf("%s: header %q", c.name, h)
		}
		var names []string
		for {
			_, rec, err := src.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, rec[1])
		}
		if len(names) != 4 || names[1] != c.want1 {
			t.Fatalf("%s: %q", c.name, names)
		}
	}
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.residents()
		b := e.load(steward("gaj"), r.ID, gbk, LoadInput{Format: CSV, Source: "gbk.csv"})
		if b.RowsStaged != 4 || e.rows(r.ID)[idl[2]]["full_name"] != "居民2" {
			t.Fatalf("gbk load: %+v", b)
		}
	})
}

// R-AGG-4: rows are checked against types and code lists; rejected rows go
// to an error report with row number and reason; accept_valid applies the
// rest, reject_all applies nothing. Duplicate keys in a snapshot are
// reported and the first row wins.
func TestValidationPolicyAndErrorReport(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.residents()
		st := steward("gaj")
		idl := ids(5)
		csv := "id_card,full_name,gender,birth_date,household_size\n" +
			idl[0] + ",甲,男,1990-02-03,2\n" + // 男 is the label of code 1
			idl[1] + ",乙,7,1990-02-03,2\n" + // 7 is not in GB/T 2261.1
			idl[2] + ",丙,1,1990-02-30,2\n" + // no such date
			idl[3] + ",,1,1990-02-03,两\n" + // required name empty, not an integer
			idl[0] + ",重复,1,1990-02-03,1\n" + // duplicate key
			idl[4] + ",戊,2,1990/02/03,3\n"
		b := e.load(st, r.ID, csv, LoadInput{Format: CSV, Policy: RejectAll, Source: "bad.csv"})
		if b.Status != BatchRejected || b.RowsRejected != 3 || b.RowsDuplicate != 1 {
			t.Fatalf("reject_all: %+v", b)
		}
		if len(e.rows(r.ID)) != 0 {
			t.Fatal("a rejected batch changed the dataset")
		}
		var lines []ReportLine
		if err := e.s.ErrorReport(e.ctx, st, b.ID, func(l ReportLine) error { lines = append(lines, l); return nil }); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range lines {
			got = append(got, fmt.Sprintf("%d:%d:%s:%s", l.Row, l.Column, l.Field, l.Code))
		}
		want := "3:3:gender:ingest.code_list 4:4:birth_date:ingest.bad_date 5:2:full_name:ingest.required 5:5:household_size:ingest.bad_integer 6:1:id_card:ingest.duplicate_key"
		if strings.Join(got, " ") != want {
			t.Fatalf("report:\n got %s\nwant %s", strings.Join(got, " "), want)
		}
		if _, err := e.s.Batch(e.ctx, citizen(), b.ID); err == nil {
			t.Fatal("a stranger read the batch")
		}
		if err := e.s.ErrorReport(e.ctx, steward("bus"), b.ID, func(ReportLine) error { return nil }); code(err) != "forbidden" {
			t.Fatalf("another org read the error report: %v", err)
		}
		b = e.load(st, r.ID, csv, LoadInput{Format: CSV, Policy: AcceptValid})
		if b.Status != BatchApplied || b.RowsStaged != 2 || b.RowsTotal != 2 {
			t.Fatalf("accept_valid: %+v", b)
		}
		rows := e.rows(r.ID)
		if rows[idl[0]]["full_name"] != "甲" || rows[idl[0]]["gender"] != "1" || rows[idl[4]]["birth_date"] != "1990-02-03" {
			t.Fatalf("rows: %v", rows)
		}
		if b.Profile == nil || b.Profile.Uniqueness >= 1 || b.Profile.Validity != 0.3333 {
			t.Fatalf("profile: %+v", b.Profile)
		}
		// Header problems name the file, row and column.
		_, err := e.s.Load(e.ctx, st, r.ID, strings.NewReader("id_card,nonsense\n1,2\n"), LoadInput{Format: CSV, Source: "h.csv"})
		if code(err) != "ingest.unknown_column" || !strings.Contains(err.Error(), "h.csv:1:2") {
			t.Fatalf("unknown column: %v", err)
		}
		_, err = e.s.Load(e.ctx, st, r.ID, strings.NewReader("full_name\n甲\n"), LoadInput{Format: CSV})
		if code(err) != "ingest.missing_key_column" {
			t.Fatalf("missing key: %v", err)
		}
		_, err = e.s.Load(e.ctx, st, r.ID, strings.NewReader("id_card,full_name\n\"x,甲\n"), LoadInput{Format: CSV, Source: "q.csv"})
		if code(err) != "ingest.bad_csv" {
			t.Fatalf("bad quote: %v", err)
		}
		if _, err := e.s.Load(e.ctx, steward("bus"), r.ID, strings.NewReader(csv), LoadInput{Format: CSV}); code(err) != "forbidden" {
			t.Fatalf("another org loaded: %v", err)
		}
	})
}

// failingReader returns its data and then an error, as a dropped upload or
// a killed loader would.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// R-AGG-1: a full replace is swapped in atomically: while a batch stages,
// readers see the old snapshot; an interrupted batch is resumed from its
// last committed chunk without duplicates; a resume with another file is
// refused.
func TestReplaceAtomicAndResume(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(o *Options) { o.ChunkRows = 7 })
		r := e.residents()
		st := steward("gaj")
		old := ids(3)
		e.load(st, r.ID, residentCSV(old, "id_card,full_name,gender,birth_date,household_size,contact"), LoadInput{Format: CSV})
		full := residentCSV(ids(40)[10:], "id_card,full_name,gender,birth_date,household_size,contact")
		cut := strings.Index(full, ids(40)[35]) // 25 rows in: 3 chunks of 7 committed
		in := LoadInput{Mode: Replace, Format: CSV, Source: "big.csv", Fingerprint: "big.csv:1234"}
		b, err := e.s.Begin(e.ctx, st, r.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Continue(e.ctx, st, b.ID, &failingReader{r: strings.NewReader(full[:cut]), err: errors.New("connection reset")}, in)
		if err == nil {
			t.Fatal("a cut input applied")
		}
		if rows := e.rows(r.ID); len(rows) != 3 || rows[old[0]] == nil {
			t.Fatalf("half a batch is visible: %d rows", len(rows))
		}
		open, err := e.s.OpenBatch(e.ctx, st, r.ID, "big.csv:1234")
		if err != nil || open == nil || open.ID != b.ID || open.RowsRead != 21 {
			t.Fatalf("open batch: %+v %v", open, err)
		}
		other := residentCSV(ids(60)[30:], "id_card,full_name,gender,birth_date,household_size,contact")
		if _, err := e.s.Continue(e.ctx, st, b.ID, strings.NewReader(other), in); code(err) != "ingest.resume_mismatch" {
			t.Fatalf("resume with another file: %v", err)
		}
		done, err := e.s.Continue(e.ctx, st, b.ID, strings.NewReader(full), in)
		if err != nil {
			t.Fatal(err)
		}
		if done.Status != BatchApplied || done.RowsRead != 30 || done.RowsStaged != 30 || done.RowsTotal != 30 || done.Deleted != 3 {
			t.Fatalf("resumed: %+v", done)
		}
		if rows := e.rows(r.ID); len(rows) != 30 || rows[old[0]] != nil {
			t.Fatalf("after resume: %d rows", len(rows))
		}
		if _, err := e.s.Continue(e.ctx, st, b.ID, strings.NewReader(full), in); code(err) != "ingest.batch_done" {
			t.Fatalf("continue a finished batch: %v", err)
		}
		// A batch left unfinished for a week is aborted with its stage.
		left, err := e.s.Begin(e.ctx, st, r.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(StaleAfter + time.Hour)
		if err := e.s.Maintain(e.ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.s.Batch(e.ctx, st, left.ID); got.Status != BatchAborted {
			t.Fatalf("stale batch: %+v", got)
		}
		if _, err := db.ExecContext(e.ctx, `SELECT 1 FROM `+qi(left.stage)); err == nil {
			t.Fatal("the stale batch's stage table is still there")
		}
	})
}

func TestDetectDelimiter(t *testing.T) {
	for in, want := range map[string]rune{
		"a,b,c\n1,2,3\n":         ',',
		"a;b;c\n1;2;3\n":         ';',
		"a\tb\n1\t2\n":           '\t',
		"a|b|c\n1|2|3":           '|',
		"\"x,y\";b\n\"1,2\";3\n": ';',
		"only\n1\n":              ',',
		"名称,地址;备注\n甲,乙;丙\n":      ',',
	} {
		if got := DetectDelimiter(in); got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
	if enc, _ := DetectEncoding([]byte("abc"), false); enc != EncUTF8 {
		t.Fatal(enc)
	}
	b, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("中文"))
	if enc, _ := DetectEncoding(b, false); enc != EncGBK {
		t.Fatal(enc)
	}
	_ = bytes.MinRead
	_ = context.Background
}
