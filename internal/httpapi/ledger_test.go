package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"shuqiao/internal/identity"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// The ledger over HTTP: a public signed checkpoint and proofs, entries and
// events for those allowed to see them, and a proof a third party checks
// offline (R-SEC-2, R-SHR-8).
func TestLedgerAPI(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		root, _ := e.bootstrap()
		r := root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs", map[string]any{
			"name": "市自来水有限公司", "kind": "public_service", "credit_code": identity.MakeCreditCode("91350200MA2600028"),
		}))
		orgID := r.json(t)["id"].(string)
		root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs/"+orgID+"/users", map[string]any{
			"username": "water.admin", "display_name": "自来水管理员", "password": "water-admin-2026", "roles": []string{"admin"},
		}))
		water := e.login("water.admin", "water-admin-2026")
		water.want(http.StatusCreated, water.do("POST", "/api/v1/orgs/"+orgID+"/clients", map[string]any{
			"name": "营业厅系统", "roles": []string{"data_steward"}, "scopes": []string{"api:read"},
		}))
		// An event that names what it delivered by its hash.
		const hash = "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			return e.app.Ledger.Append(ctx, tx, ledger.Event{ActorKind: ledger.ActorSystem, ActorID: "test", OrgID: orgID,
				Action: ledger.Provide, ResourceID: "res-hash", ContentHash: hash})
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.app.Ledger.Integrate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.app.Ledger.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}

		anon := e.anon()
		cpResp := anon.want(http.StatusOK, anon.do("GET", "/api/v1/ledger/checkpoint", nil))
		vkey := cpResp.header.Get("X-Ledger-Verifier-Key")
		if vkey != e.app.Ledger.VerifierKey() {
			t.Fatalf("verifier key header %q", vkey)
		}
		v, err := ledger.NewVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := ledger.OpenCheckpoint(cpResp.body, noteVerifiers(v), "")
		if err != nil || cp.Size == 0 {
			t.Fatalf("checkpoint %q: %v", cpResp.body, err)
		}

		// Entries and events need a sign-in.
		anon.want(http.StatusUnauthorized, anon.do("GET", "/api/v1/ledger/entries/0", nil))
		anon.want(http.StatusUnauthorized, anon.do("GET", "/api/v1/ledger/events", nil))

		// The authority sees every event; the water company only its own.
		all := root.want(http.StatusOK, root.do("GET", "/api/v1/ledger/events?limit=500", nil))
		var page struct {
			Items []ledger.Entry `json:"items"`
		}
		if err := json.Unmarshal(all.body, &page); err != nil || len(page.Items) != int(cp.Size) {
			t.Fatalf("authority sees %d events of %d (%v)", len(page.Items), cp.Size, err)
		}
		own := water.want(http.StatusOK, water.do("GET", "/api/v1/ledger/events", nil))
		page.Items = nil
		_ = json.Unmarshal(own.body, &page)
		if len(page.Items) == 0 {
			t.Fatal("the water company sees none of its own events")
		}
		var ownSeq, otherSeq uint64 = 0, 0
		for _, it := range page.Items {
			if it.OrgID != orgID {
				t.Fatalf("the water company sees another org's event: %+v", it)
			}
			ownSeq = it.Seq
		}
		for seq := uint64(0); seq < cp.Size; seq++ {
			en, _ := e.app.Ledger.Entry(ctx, seq)
			if en.OrgID != orgID {
				otherSeq = seq
				break
			}
		}
		water.want(http.StatusForbidden, water.do("GET", "/api/v1/ledger/events?org=someone-else", nil))
		water.want(http.StatusNotFound, water.do("GET", "/api/v1/ledger/entries/"+strconv.FormatUint(otherSeq, 10), nil))
		root.want(http.StatusUnprocessableEntity, root.do("GET", "/api/v1/ledger/events?since=yesterday", nil))

		// By content hash: the events about exactly that content.
		byHash := root.want(http.StatusOK, root.do("GET", "/api/v1/ledger/events?content_hash="+hash, nil))
		page.Items = nil
		if err := json.Unmarshal(byHash.body, &page); err != nil || len(page.Items) != 1 || page.Items[0].ContentHash != hash || page.Items[0].ResourceID != "res-hash" {
			t.Fatalf("by content hash: %s (%v)", byHash.body, err)
		}
		root.want(http.StatusUnprocessableEntity, root.do("GET", "/api/v1/ledger/events?content_hash=not-a-hash", nil))

		// A third party: the entry, its proof against the latest checkpoint, offline.
		entry := water.want(http.StatusOK, water.do("GET", "/api/v1/ledger/entries/"+strconv.FormatUint(ownSeq, 10), nil))
		proof := anon.want(http.StatusOK, anon.do("GET", "/api/v1/ledger/proofs/inclusion?seq="+strconv.FormatUint(ownSeq, 10), nil))
		var withCp struct {
			Checkpoint string `json:"checkpoint"`
		}
		_ = json.Unmarshal(proof.body, &withCp)
		if ok, err := ledger.CheckProof(entry.body, proof.body, []byte(withCp.Checkpoint), vkey); !ok {
			t.Fatalf("CheckProof over HTTP: %v", err)
		}
		anon.want(http.StatusOK, anon.do("GET", "/api/v1/ledger/proofs/inclusion?seq=0&size="+strconv.FormatUint(cp.Size, 10), nil))
		anon.want(http.StatusOK, anon.do("GET", "/api/v1/ledger/proofs/consistency?from=1&to="+strconv.FormatUint(cp.Size, 10), nil))
		anon.want(http.StatusUnprocessableEntity, anon.do("GET", "/api/v1/ledger/proofs/inclusion?seq=x", nil))
		anon.want(http.StatusUnprocessableEntity, anon.do("GET", "/api/v1/ledger/proofs/inclusion?seq=0&size=999999", nil))
	})
}

func noteVerifiers(v note.Verifier) note.Verifiers { return note.VerifierList(v) }
