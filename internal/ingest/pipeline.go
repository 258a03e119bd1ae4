package ingest

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A load runs as two goroutines: the producer reads, decodes and validates
// records into blocks; the consumer stages the blocks' rows and commits a
// chunk every ChunkRows records. Blocks end on record boundaries, so a
// chunk's rows, error lines and counters commit together and a resumed load
// starts exactly after them.

// blockRows bounds a block's valid rows and blockRecords its records.
const (
	blockRows    = 1000
	blockRecords = 2000
)

// tally is a block's contribution to the batch's counters.
type tally struct {
	staged, rejected, warnings int64
	present                    []int64
	codes                      map[string]int64
}

type block struct {
	rows    []any // flattened rows of len(cols)+len(lineageCols) values
	n       int
	rejects []any // flattened error lines of 8 values
	nrej    int64
	read    int64 // records read so far, through this block
	crc     uint32
	bytes   int64
	t       tally
	err     error
}

func (l *loader) newBlock() *block {
	return &block{t: tally{present: make([]int64, len(l.cols)), codes: map[string]int64{}}}
}

// produce reads the input into blocks on out and closes it. Records the
// batch committed before are skipped after checking they are the same.
func (l *loader) produce(ctx context.Context, hr *hashingReader, committed int64, savedCRC uint32, out chan<- *block) {
	defer close(out)
	send := func(blk *block) bool {
		blk.bytes = hr.n
		select {
		case out <- blk:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var read int64
	var crc uint32
	row := make([]any, len(l.cols)+len(lineageCols))
	texts := make([]string, len(l.cols))
	sheet := l.src.sheet()
	blk := l.newBlock()
	records := 0
	// A block never spans a chunk boundary.
	limit := min(blockRecords, l.s.opts.ChunkRows)
	var sep = []byte{0x1f}
	for {
		rowNo, rec, err := l.src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *rowError
		if err != nil && !errors.As(err, &re) {
			blk.err = err
			send(blk)
			return
		}
		read++
		crc = crc32.Update(crc, crcTable, []byte(strconv.FormatInt(rowNo, 10)))
		for _, c := range rec {
			crc = crc32.Update(crc, crcTable, []byte(c))
			crc = crc32.Update(crc, crcTable, sep)
		}
		if read <= committed {
			if read == committed && crc != savedCRC {
				blk.err = ErrResumeMismatch.At(fmt.Sprintf("row %d", rowNo))
				send(blk)
				return
			}
			continue
		}
		if re != nil {
			l.addReject(blk, re.row, 0, "", &re.cellError, "")
			blk.t.rejected++
		} else {
			l.check(blk, rowNo, rec, row, texts, sheet)
		}
		records++
		blk.read, blk.crc = read, crc
		if blk.n >= blockRows || records >= limit {
			if !send(blk) {
				return
			}
			blk, records = l.newBlock(), 0
		}
	}
	if read < committed {
		blk.err = ErrResumeMismatch.At(fmt.Sprintf("row %d", read))
	}
	blk.read, blk.crc = max(read, committed), crc
	if read <= committed {
		blk.crc = savedCRC
	}
	send(blk)
}

// check validates one record; a valid one joins blk's rows.
func (l *loader) check(blk *block, rowNo int64, rec []string, row []any, texts []string, sheet bool) {
	b := l.b
	bad := false
	for i, c := range l.cols {
		raw := ""
		if c.src >= 0 && c.src < len(rec) {
			raw = rec[c.src]
		}
		texts[i] = raw
		if b.Mode == Delete && !c.key {
			row[i] = nil
			continue
		}
		v, ce := c.parse(raw, l.d, sheet)
		if ce != nil {
			bad = true
			l.addReject(blk, rowNo, c.src+1, c.f.Name, ce, raw)
			continue
		}
		row[i] = v
	}
	if !bad && b.Mode != Delete {
		warned := false
		for _, r := range l.rules {
			ce := r.check(row, l.cols)
			if ce == nil {
				continue
			}
			if r.severity == SeverityWarning {
				warned = true
				blk.t.codes[ce.code+".warning"]++
				continue
			}
			bad = true
			l.addReject(blk, rowNo, l.cols[r.field].src+1, r.fieldName, ce, texts[r.field])
		}
		if warned {
			blk.t.warnings++
		}
	}
	if bad {
		blk.t.rejected++
		return
	}
	n := len(l.cols)
	row[n], row[n+1], row[n+2], row[n+3] = b.Seq, b.OrgID, rowNo, l.now
	for i, v := range row[:n] {
		if v != nil {
			blk.t.present[i]++
			if sm := l.sample[i]; len(sm) < piiSample && piiCandidate(l.cols[i].f) {
				l.sample[i] = append(sm, texts[i])
			}
		}
	}
	blk.t.staged++
	blk.rows = append(blk.rows, row...)
	blk.n++
}

// addReject adds an error report line to blk, up to MaxErrors lines.
func (l *loader) addReject(blk *block, rowNo int64, col int, field string, ce *cellError, value string) {
	blk.t.codes[ce.code]++
	if l.errLines.Add(1) > int64(l.s.opts.MaxErrors) {
		return
	}
	if !utf8.ValidString(value) {
		value = strings.ToValidUTF8(value, "\uFFFD")
	}
	blk.rejects = append(blk.rejects, l.b.ID, rowNo, col, field, ce.code, ce.zh, ce.en, clip(value, 200))
	blk.nrej++
}

// reject adds an error line found while staging (a duplicate key).
func (l *loader) reject(ctx context.Context, rowNo int64, col int, field string, ce *cellError, value string) error {
	l.b.counters.Codes[ce.code]++
	if l.errLines.Add(1) > int64(l.s.opts.MaxErrors) {
		return nil
	}
	l.b.ErrorsStored++
	return l.errs.add(ctx, l.tx, []any{l.b.ID, rowNo, col, field, ce.code, ce.zh, ce.en, clip(value, 200)})
}

// run stages the blocks the producer makes, committing a chunk every
// ChunkRows records.
func (l *loader) run(ctx context.Context, hr *hashingReader, progress func(Progress)) error {
	b := l.b
	committed := b.RowsRead
	l.errLines.Store(b.ErrorsStored)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan *block, 4)
	go l.produce(pctx, hr, committed, b.counters.PrefixCRC, ch)
	drain := func() {
		cancel()
		for range ch {
		}
	}
	chunk := int64(l.s.opts.ChunkRows)
	width := len(l.cols) + len(lineageCols)
	var bytes int64
	for blk := range ch {
		if blk.err != nil {
			drain()
			return blk.err
		}
		if l.tx == nil {
			if err := l.begin(ctx); err != nil {
				drain()
				return err
			}
		}
		for i := int64(0); i < blk.nrej; i++ {
			if err := l.errs.add(ctx, l.tx, blk.rejects[i*8:(i+1)*8]); err != nil {
				drain()
				return err
			}
		}
		b.ErrorsStored += blk.nrej
		b.RowsStaged += blk.t.staged
		b.RowsRejected += blk.t.rejected
		b.counters.Warnings += blk.t.warnings
		for i, v := range blk.t.present {
			b.counters.Present[i] += v
		}
		for k, v := range blk.t.codes {
			b.counters.Codes[k] += v
		}
		for i := 0; i < blk.n; i++ {
			if err := l.ins.add(ctx, l.tx, blk.rows[i*width:(i+1)*width]); err != nil {
				drain()
				return err
			}
		}
		b.RowsRead, l.crc, bytes = blk.read, blk.crc, blk.bytes
		if b.RowsRead-committed >= chunk {
			if err := l.commit(ctx); err != nil {
				drain()
				return err
			}
			committed = b.RowsRead
			if progress != nil {
				progress(Progress{Rows: b.RowsRead, Bytes: bytes})
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.tx == nil {
		if err := l.begin(ctx); err != nil {
			return err
		}
	}
	if progress != nil {
		progress(Progress{Rows: b.RowsRead, Bytes: hr.n})
	}
	return nil
}
