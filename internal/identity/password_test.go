package identity

import (
	"strings"
	"testing"
)

// R-SEC-3 identity authentication: argon2id hashes round-trip, are salted,
// and reject wrong passwords.
func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := hashPassword("correct horse 42", DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with the default parameters", h)
	}
	ok, err := verifyPassword(h, "correct horse 42")
	if err != nil || !ok {
		t.Fatalf("verify right password = %v, %v", ok, err)
	}
	for _, wrong := range []string{"", "correct horse 43", "Correct horse 42", "correct horse 42 "} {
		if ok, err := verifyPassword(h, wrong); err != nil || ok {
			t.Fatalf("verify %q = %v, %v; want false", wrong, ok, err)
		}
	}
	h2, _ := hashPassword("correct horse 42", DefaultArgon2)
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	// A hash made with other parameters still verifies: they travel with it.
	light, _ := hashPassword("pw1234567890", Argon2Params{Memory: 64, Time: 1, Threads: 1})
	if ok, err := verifyPassword(light, "pw1234567890"); err != nil || !ok {
		t.Fatalf("verify light hash = %v, %v", ok, err)
	}
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	good, _ := hashPassword("pw1234567890", Argon2Params{Memory: 64, Time: 1, Threads: 1})
	parts := strings.Split(good, "$")
	bad := []string{
		"",
		"plain",
		"$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + parts[4] + "$" + parts[5], // would allocate terabytes
		"$argon2id$v=19$m=64,t=1000,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,x=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
	}
	for _, h := range bad {
		if ok, err := verifyPassword(h, "pw1234567890"); err == nil || ok {
			t.Errorf("verifyPassword(%q) = %v, %v; want an error", h, ok, err)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	for _, c := range []struct {
		pw, user string
		ok       bool
	}{
		{"abcdefghi1", "", true},
		{"密码密码密码密码密码1", "", true}, // Chinese characters are letters
		{"abcdefgh1", "", false},  // 9 characters
		{"abcdefghij", "", false}, // no digit
		{"1234567890", "", false}, // no letter
		{"alice12345", "Alice12345", false},
		{strings.Repeat("a1", 129), "", false}, // 258 characters
	} {
		err := CheckPasswordPolicy(c.pw, c.user)
		if (err == nil) != c.ok {
			t.Errorf("CheckPasswordPolicy(%q) = %v, want ok=%v", c.pw, err, c.ok)
		}
		if err != nil && code(err) != "identity.password_policy" {
			t.Errorf("code %s", code(err))
		}
	}
	for range 50 {
		if pw := NewOneTimePassword(); CheckPasswordPolicy(pw, "") != nil || len(pw) != 16 {
			t.Fatalf("one-time password %q breaks the policy", pw)
		}
	}
}
