package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
)

func TestVerify(t *testing.T) {
	const secret = "It's a Secret to Everybody"
	const wrong = "not the secret"
	body := fixture(t, "github/push.json")
	good := sign(secret, body)
	bad := sign(wrong, body)

	type result struct {
		res v1alpha1.VerificationResult
		err error
	}
	verified := result{v1alpha1.VerificationVerified, nil}
	unverified := result{v1alpha1.VerificationUnverified, nil}
	noSecret := result{v1alpha1.VerificationUnverified, ErrNoSecret}
	missing := result{v1alpha1.VerificationFailed, ErrMissingSignature}
	mismatch := result{v1alpha1.VerificationFailed, ErrBadSignature}

	tests := []struct {
		name     string
		provider v1alpha1.Provider
		header   http.Header
		secret   string
		want     result
	}{
		{"github right", v1alpha1.ProviderGitHub, headers("X-Hub-Signature-256", "sha256="+good), secret, verified},
		{"github uppercase hex", v1alpha1.ProviderGitHub, headers("X-Hub-Signature-256", "sha256="+strings.ToUpper(good)), secret, verified},
		{"github wrong secret", v1alpha1.ProviderGitHub, headers("X-Hub-Signature-256", "sha256="+bad), secret, mismatch},
		{"github without prefix", v1alpha1.ProviderGitHub, headers("X-Hub-Signature-256", good), secret, mismatch},
		{"github not hex", v1alpha1.ProviderGitHub, headers("X-Hub-Signature-256", "sha256=zz"), secret, mismatch},
		{"github truncated MAC", v1alpha1.ProviderGitHub, headers("X-Hub-Signature-256", "sha256="+good[:32]), secret, mismatch},
		{"github missing", v1alpha1.ProviderGitHub, http.Header{}, secret, missing},
		{"github only SHA-1", v1alpha1.ProviderGitHub, headers("X-Hub-Signature", "sha1=00"), secret, missing},
		{"github no secret", v1alpha1.ProviderGitHub, headers("X-Hub-Signature-256", "sha256="+good), "", noSecret},

		{"gitea right", v1alpha1.ProviderGitea, headers("X-Gitea-Signature", good), secret, verified},
		{"gitea GitHub header", v1alpha1.ProviderGitea, headers("X-Hub-Signature-256", "sha256="+good), secret, verified},
		{"forgejo header", v1alpha1.ProviderGitea, headers("X-Forgejo-Signature", good), secret, verified},
		{"gitea wrong secret", v1alpha1.ProviderGitea, headers("X-Gitea-Signature", bad, "X-Hub-Signature-256", "sha256="+good), secret, mismatch},
		{"gitea missing", v1alpha1.ProviderGitea, http.Header{}, secret, missing},
		{"gitea no secret", v1alpha1.ProviderGitea, headers("X-Gitea-Signature", good), "", noSecret},

		{"gitlab right", v1alpha1.ProviderGitLab, headers("X-Gitlab-Token", secret), secret, verified},
		{"gitlab wrong", v1alpha1.ProviderGitLab, headers("X-Gitlab-Token", wrong), secret, mismatch},
		{"gitlab prefix of the secret", v1alpha1.ProviderGitLab, headers("X-Gitlab-Token", secret[:5]), secret, mismatch},
		{"gitlab missing", v1alpha1.ProviderGitLab, http.Header{}, secret, missing},
		{"gitlab no secret", v1alpha1.ProviderGitLab, headers("X-Gitlab-Token", secret), "", noSecret},

		{"generic signature", v1alpha1.ProviderGeneric, headers("X-TinyForge-Signature", "sha256="+good), secret, verified},
		{"generic bearer", v1alpha1.ProviderGeneric, headers("Authorization", "Bearer "+secret), secret, verified},
		{"generic bearer scheme in lower case", v1alpha1.ProviderGeneric, headers("Authorization", "bearer "+secret), secret, verified},
		{"generic wrong signature, right bearer", v1alpha1.ProviderGeneric, headers("X-TinyForge-Signature", "sha256="+bad, "Authorization", "Bearer "+secret), secret, mismatch},
		{"generic wrong bearer", v1alpha1.ProviderGeneric, headers("Authorization", "Bearer "+wrong), secret, mismatch},
		{"generic bare secret is not a bearer token", v1alpha1.ProviderGeneric, headers("Authorization", secret), secret, mismatch},
		{"generic missing", v1alpha1.ProviderGeneric, http.Header{}, secret, missing},
		{"generic no secret", v1alpha1.ProviderGeneric, headers("Authorization", "Bearer "+secret), "", noSecret},

		{"harbor bearer", v1alpha1.ProviderHarbor, headers("Authorization", "Bearer "+secret), secret, verified},
		{"harbor bare secret", v1alpha1.ProviderHarbor, headers("Authorization", secret), secret, verified},
		{"harbor basic credentials as the secret", v1alpha1.ProviderHarbor, headers("Authorization", "Basic dXNlcjpwYXNz"), "Basic dXNlcjpwYXNz", verified},
		{"harbor wrong", v1alpha1.ProviderHarbor, headers("Authorization", "Bearer "+wrong), secret, mismatch},
		{"harbor missing", v1alpha1.ProviderHarbor, http.Header{}, secret, missing},
		{"harbor no secret", v1alpha1.ProviderHarbor, headers("Authorization", secret), "", noSecret},

		{"distribution bearer", v1alpha1.ProviderDistribution, headers("Authorization", "Bearer "+secret), secret, verified},
		{"distribution wrong bearer", v1alpha1.ProviderDistribution, headers("Authorization", "Bearer "+wrong), secret, mismatch},
		{"distribution without a header", v1alpha1.ProviderDistribution, http.Header{}, secret, unverified},
		{"distribution without a secret", v1alpha1.ProviderDistribution, headers("Authorization", "Bearer "+secret), "", unverified},

		{"docker hub cannot sign", v1alpha1.ProviderDockerHub, headers("Authorization", "Bearer "+wrong), secret, unverified},
		{"docker hub without a secret", v1alpha1.ProviderDockerHub, http.Header{}, "", unverified},

		{"unknown provider", "bitbucket", http.Header{}, secret, result{v1alpha1.VerificationFailed, ErrUnsupported}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Verify(tt.provider, tt.header, body, []byte(tt.secret))
			if res != tt.want.res || !errors.Is(err, tt.want.err) || (err == nil) != (tt.want.err == nil) {
				t.Fatalf("Verify() = %s, %v; want %s, %v", res, err, tt.want.res, tt.want.err)
			}
			if err == nil {
				return
			}
			// Neither the secret nor any MAC may leak into a message that
			// reaches logs and HTTP answers.
			for _, leak := range []string{secret, good, bad, strings.ToUpper(good), good[:32], "dXNlcjpwYXNz"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q leaks %q", err, leak)
				}
			}
		})
	}
}

// TestVerifyBodyTampering: a signature is of the exact body, so any change
// to it fails.
func TestVerifyBodyTampering(t *testing.T) {
	const secret = "s3cret"
	body := fixture(t, "gitea/push-event.json")
	h := headers("X-Gitea-Signature", sign(secret, body))
	if res, err := Verify(v1alpha1.ProviderGitea, h, body, []byte(secret)); err != nil || res != v1alpha1.VerificationVerified {
		t.Fatalf("Verify(original) = %s, %v", res, err)
	}
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)/2] ^= 1
	if res, err := Verify(v1alpha1.ProviderGitea, h, tampered, []byte(secret)); !errors.Is(err, ErrBadSignature) || res != v1alpha1.VerificationFailed {
		t.Errorf("Verify(tampered) = %s, %v; want Failed, ErrBadSignature", res, err)
	}
}
