// Command sm2vectors prints, as JSON, checkpoints signed by the ledger's own
// SM2 and Ed25519 note signers, for web/test/sm2.test.mjs to verify with the
// browser's code: the vectors come from the Go side on every run, so the
// two cannot drift apart.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"

	"shuqiao/internal/ledger"
)

type vector struct {
	Alg  string `json:"alg"`
	Key  string `json:"key"`
	Note string `json:"note"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sm2vectors:", err)
		os.Exit(1)
	}
}

func run() error {
	root := base64.StdEncoding.EncodeToString(make([]byte, 32))
	texts := []string{
		"shuqiao.test/ledger\n42\n" + root + "\n",
		"厦门市公共数据账本\n1\n" + root + "\n", // a non-ASCII origin
	}
	var out []vector
	for _, alg := range []string{"sm2", "ed25519"} {
		var skey, vkey string
		var err error
		if alg == "sm2" {
			skey, vkey, err = ledger.GenerateSM2Key(nil, "shuqiao.test")
		} else {
			skey, vkey, err = note.GenerateKey(nil, "shuqiao.test")
		}
		if err != nil {
			return err
		}
		signer, _, err := ledger.NewSigner(skey)
		if err != nil {
			return err
		}
		for _, text := range texts {
			signed, err := note.Sign(&note.Note{Text: text}, signer)
			if err != nil {
				return err
			}
			out = append(out, vector{Alg: alg, Key: vkey, Note: string(signed)})
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
