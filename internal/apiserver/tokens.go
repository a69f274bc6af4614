package apiserver

import (
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// Groups that TinyForge's authorizer knows.
const (
	// GroupAdmins may do anything (Kubernetes' own superuser group).
	GroupAdmins = "system:masters"
	// GroupViewers may get, list and watch everything but Secrets.
	GroupViewers = "tinyforge:viewers"
)

// tokenUser is one line of the token file.
type tokenUser struct {
	Token, Name, UID string
	Groups           []string
}

// ensureTokens creates the token file with an admin and a viewer token when it
// does not exist yet, and returns both from the existing file otherwise. Users
// may add lines (token,user,uid,"group1,group2") and restart.
func ensureTokens(path string) (admin, viewer tokenUser, err error) {
	if _, statErr := os.Stat(path); os.IsNotExist(statErr) {
		admin = tokenUser{Token: newToken(), Name: "admin", UID: "admin", Groups: []string{GroupAdmins}}
		viewer = tokenUser{Token: newToken(), Name: "viewer", UID: "viewer", Groups: []string{GroupViewers}}
		var b strings.Builder
		w := csv.NewWriter(&b)
		for _, u := range []tokenUser{admin, viewer} {
			if err := w.Write([]string{u.Token, u.Name, u.UID, strings.Join(u.Groups, ",")}); err != nil {
				return admin, viewer, err
			}
		}
		w.Flush()
		return admin, viewer, writeFile(path, []byte(b.String()), 0o600)
	}
	users, err := readTokens(path)
	if err != nil {
		return admin, viewer, err
	}
	for _, u := range users {
		switch u.Name {
		case "admin":
			admin = u
		case "viewer":
			viewer = u
		}
	}
	if admin.Token == "" {
		return admin, viewer, fmt.Errorf("token file %s has no user named admin", path)
	}
	return admin, viewer, nil
}

func readTokens(path string) ([]tokenUser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading token file: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.Comment = '#'
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parsing token file %s: %w", path, err)
	}
	var users []tokenUser
	for _, rec := range recs {
		if len(rec) < 3 {
			return nil, fmt.Errorf("token file %s: a line needs token,user,uid[,groups]", path)
		}
		u := tokenUser{Token: rec[0], Name: rec[1], UID: rec[2]}
		if len(rec) > 3 && rec[3] != "" {
			u.Groups = strings.Split(rec[3], ",")
		}
		users = append(users, u)
	}
	return users, nil
}

func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err)) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}
