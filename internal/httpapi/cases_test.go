package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"mime/multipart"
	"net/http"
	"testing"

	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// The casework API end to end, checked against api/openapi.yaml: a
// rectification order (R-GOV-3, XM63), a complaint refused only with a
// written reason (R-SEC-11, XM61, XM26), inboxes, comments, attachments and
// notifications.
func TestCasesAPI(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		root, authority := e.bootstrap()

		dept := root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs", map[string]any{
			"name": "市卫生健康委员会", "name_en": "City Health Commission", "kind": "department",
			"credit_code": identity.MakeCreditCode("11350200MA2600036"),
		})).json(t)["id"].(string)
		root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs/"+dept+"/users", map[string]any{
			"username": "health.admin", "display_name": "卫健委管理员", "password": "health-admin-2026", "roles": []string{"admin"},
		}))
		root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs/"+dept+"/users", map[string]any{
			"username": "health.dev", "display_name": "卫健委开发", "password": "health-dev-2026", "roles": []string{"developer"},
		}))
		root.want(http.StatusCreated, root.do("POST", "/api/v1/orgs/"+authority.ID+"/users", map[string]any{
			"username": "security", "display_name": "安全员", "password": "security-2026", "roles": []string{"security_officer"},
		}))
		deptAdmin := e.login("health.admin", "health-admin-2026")
		deptDev := e.login("health.dev", "health-dev-2026")
		officer := e.login("security", "security-2026")

		kinds := root.want(http.StatusOK, root.do("GET", "/api/v1/case-kinds", nil)).json(t)["items"].([]any)
		if len(kinds) < 2 {
			t.Fatalf("case kinds: %v", kinds)
		}
		e.anon().want(http.StatusUnauthorized, e.anon().do("GET", "/api/v1/cases", nil))

		// R-GOV-3: the authority orders the department to rectify.
		order := root.want(http.StatusCreated, root.do("POST", "/api/v1/cases", map[string]any{
			"kind": "rectification_order", "title": "目录未按期更新",
			"target":  map[string]any{"type": "org", "id": dept},
			"payload": map[string]any{"failing": "catalog", "description": "第一季度目录未更新", "working_days": 10},
		})).json(t)
		oid := order["id"].(string)
		if order["state"] != "ordered" || order["deadline"] == nil {
			t.Fatalf("order: %v", order)
		}
		r := deptDev.want(http.StatusForbidden, deptDev.do("POST", "/api/v1/cases", map[string]any{
			"kind": "rectification_order", "target": map[string]any{"type": "org", "id": dept},
			"payload": map[string]any{"failing": "catalog", "description": "x"},
		}))
		if r.code(t) != "casework.forbidden_filing" {
			t.Fatalf("code %q", r.code(t))
		}
		awaiting := deptAdmin.want(http.StatusOK, deptAdmin.do("GET", "/api/v1/cases?view=awaiting", nil)).json(t)["items"].([]any)
		if len(awaiting) != 1 {
			t.Fatalf("dept admin awaiting: %v", awaiting)
		}
		got := deptAdmin.want(http.StatusOK, deptAdmin.do("GET", "/api/v1/cases/"+oid, nil)).json(t)
		if acts, _ := got["actions"].([]any); len(acts) == 0 || acts[0] != "report" {
			t.Fatalf("actions: %v", got["actions"])
		}
		r = deptAdmin.want(http.StatusUnprocessableEntity, deptAdmin.do("POST", "/api/v1/cases/"+oid+"/actions/report", map[string]any{}))
		if r.code(t) != "casework.reason_required" || r.json(t)["field"] != "reason" {
			t.Fatalf("report without text: %s", r.body)
		}
		r = deptDev.want(http.StatusForbidden, deptDev.do("POST", "/api/v1/cases/"+oid+"/actions/report", map[string]any{"reason": "done"}))
		if r.code(t) != "casework.forbidden_action" {
			t.Fatalf("code %q", r.code(t))
		}
		rep := deptAdmin.want(http.StatusOK, deptAdmin.do("POST", "/api/v1/cases/"+oid+"/actions/report", map[string]any{"reason": "已更新目录"})).json(t)
		if rep["state"] != "reported" {
			t.Fatalf("after report: %v", rep)
		}
		deptAdmin.want(http.StatusForbidden, deptAdmin.do("POST", "/api/v1/cases/"+oid+"/actions/accept", nil))
		root.want(http.StatusConflict, root.do("POST", "/api/v1/cases/"+oid+"/actions/report", map[string]any{"reason": "x"}))
		root.want(http.StatusUnprocessableEntity, root.do("POST", "/api/v1/cases/"+oid+"/actions/fly", nil))
		closed := root.want(http.StatusOK, root.do("POST", "/api/v1/cases/"+oid+"/actions/accept", nil)).json(t)
		if closed["state"] != "closed" || len(closed["history"].([]any)) != 3 {
			t.Fatalf("after accept: %v", closed)
		}

		// R-SEC-11: a complaint; XM26: no refusal without a written reason.
		c := deptDev.want(http.StatusCreated, deptDev.do("POST", "/api/v1/cases", map[string]any{
			"kind": "complaint", "title": "数据被超范围使用",
			"payload": map[string]any{"category": "data_security", "description": "某系统导出了全部人口数据"},
		})).json(t)
		cid := c["id"].(string)
		r = deptAdmin.want(http.StatusNotFound, deptAdmin.do("GET", "/api/v1/cases/"+cid, nil))
		if r.code(t) != "casework.not_found" {
			t.Fatalf("a colleague sees the complaint: %s", r.body)
		}
		r = officer.want(http.StatusUnprocessableEntity, officer.do("POST", "/api/v1/cases/"+cid+"/actions/refuse", map[string]any{"reason": "   "}))
		if r.code(t) != "casework.reason_required" {
			t.Fatalf("refusal without reason: %s", r.body)
		}
		officer.want(http.StatusCreated, officer.do("POST", "/api/v1/cases/"+cid+"/comments", map[string]any{"body": "请说明系统名称"}))

		// Attachments: multipart upload, list, download with the hash.
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		fw, _ := mw.CreateFormFile("file", "说明.txt")
		content := []byte("系统名称：人口库导出工具")
		_, _ = fw.Write(content)
		_ = mw.Close()
		att := deptDev.want(http.StatusCreated, deptDev.raw("POST", "/api/v1/cases/"+cid+"/attachments", mw.FormDataContentType(), form.Bytes())).json(t)
		sum := sha256.Sum256(content)
		if att["sha256"] != hex.EncodeToString(sum[:]) || att["name"] != "说明.txt" {
			t.Fatalf("attachment: %v", att)
		}
		list := officer.want(http.StatusOK, officer.do("GET", "/api/v1/cases/"+cid+"/attachments", nil)).json(t)["items"].([]any)
		if len(list) != 1 {
			t.Fatalf("attachments: %v", list)
		}
		dl := officer.want(http.StatusOK, officer.do("GET", "/api/v1/cases/"+cid+"/attachments/"+att["id"].(string), nil))
		if !bytes.Equal(dl.body, content) || dl.header.Get("X-Content-SHA256") != att["sha256"] {
			t.Fatalf("download: %q %v", dl.body, dl.header)
		}
		big := make([]byte, 10<<20+1)
		r = deptDev.want(http.StatusRequestEntityTooLarge, deptDev.raw("POST", "/api/v1/cases/"+cid+"/attachments?name=big.bin", "application/octet-stream", big))
		if r.code(t) != "casework.attachment_too_large" {
			t.Fatalf("too large: %s", r.body)
		}

		refused := officer.want(http.StatusOK, officer.do("POST", "/api/v1/cases/"+cid+"/actions/refuse", map[string]any{
			"reason": "经核查，该导出经合法授权，不构成违规。"})).json(t)
		if refused["state"] != "refused" || refused["decision"].(map[string]any)["reason"] == "" {
			t.Fatalf("refused: %v", refused)
		}
		filed := deptDev.want(http.StatusOK, deptDev.do("GET", "/api/v1/cases?view=filed&kind=complaint&overdue=false", nil)).json(t)["items"].([]any)
		if len(filed) != 1 {
			t.Fatalf("filed: %v", filed)
		}
		deptDev.want(http.StatusUnprocessableEntity, deptDev.do("GET", "/api/v1/cases?view=nobody", nil))

		// Notifications in the inbox.
		notes := deptDev.want(http.StatusOK, deptDev.do("GET", "/api/v1/notifications", nil)).json(t)["items"].([]any)
		if len(notes) < 2 {
			t.Fatalf("notifications: %v", notes)
		}
		first := notes[0].(map[string]any)
		deptDev.want(http.StatusNoContent, deptDev.do("POST", "/api/v1/notifications/read", map[string]any{"ids": []string{first["id"].(string)}}))
		unread := deptDev.want(http.StatusOK, deptDev.do("GET", "/api/v1/notifications?unread=true", nil)).json(t)["items"].([]any)
		if len(unread) != len(notes)-1 {
			t.Fatalf("unread %d of %d", len(unread), len(notes))
		}
	})
}
