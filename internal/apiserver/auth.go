package apiserver

import (
	"context"
	"net/http"
	"strings"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	authzunion "k8s.io/apiserver/pkg/authorization/union"
)

// healthPaths are the only paths served without a token.
var healthPaths = []string{"/healthz", "/livez", "/readyz"}

func isHealthPath(p string) bool {
	for _, h := range healthPaths {
		if p == h || strings.HasPrefix(p, h+"/") {
			return true
		}
	}
	return false
}

// newAuthenticator authenticates bearer tokens from the token file; a token
// that is present but unknown fails the request (401) rather than falling
// through to anonymous, and anonymous is only for the health paths.
func newAuthenticator(tokenFile string) (authenticator.Request, error) {
	tokens, err := tokenfile.NewCSV(tokenFile)
	if err != nil {
		return nil, err
	}
	return union.NewFailOnError(bearertoken.New(tokens), healthAnonymous{}), nil
}

// healthAnonymous lets probes reach the health paths without a token.
type healthAnonymous struct{}

func (healthAnonymous) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	if !isHealthPath(req.URL.Path) || req.Header.Get("Authorization") != "" {
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{
		Name: user.Anonymous, Groups: []string{user.AllUnauthenticated},
	}}, true, nil
}

// newAuthorizer allows the health paths to everyone, everything to admins,
// and reads of everything but Secrets to viewers.
func newAuthorizer() (authorizer.Authorizer, error) {
	return authzunion.New(
		authzunion.NamedAuthorizer{AuthorizerName: "health", Authorizer: authorizer.AuthorizerFunc(authorizeHealth)},
		authzunion.NamedAuthorizer{AuthorizerName: "groups", Authorizer: authorizer.AuthorizerFunc(authorizeGroups)},
	)
}

func authorizeHealth(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if !a.IsResourceRequest() && a.GetVerb() == "get" && isHealthPath(a.GetPath()) {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

var readVerbs = map[string]bool{"get": true, "list": true, "watch": true}

func authorizeGroups(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	u := a.GetUser()
	if u == nil {
		return authorizer.DecisionNoOpinion, "", nil
	}
	for _, g := range u.GetGroups() {
		switch g {
		case GroupAdmins:
			return authorizer.DecisionAllow, "", nil
		case GroupViewers:
			if !a.IsResourceRequest() {
				if a.GetVerb() == "get" {
					return authorizer.DecisionAllow, "", nil
				}
				continue
			}
			if readVerbs[a.GetVerb()] && !(a.GetAPIGroup() == "" && a.GetResource() == "secrets") {
				return authorizer.DecisionAllow, "", nil
			}
		}
	}
	return authorizer.DecisionNoOpinion, "viewers may only read, and never Secrets", nil
}
