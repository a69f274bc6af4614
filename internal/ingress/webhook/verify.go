package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/tinyforge/tinyforge/api/v1alpha1"
)

// Verify checks that a delivery comes from whoever holds secret, the way the
// provider signs or authenticates its deliveries (see the package doc):
//
//   - Verified, nil: the signature or token matched.
//   - Unverified, nil: nothing to check: Docker Hub cannot sign, and a
//     distribution registry sends a token only when its endpoint is set up
//     to (and then only a non-empty secret can check it).
//   - Unverified, ErrNoSecret: the provider signs or sends a token, but
//     secret is empty; the caller decides whether that is acceptable.
//   - Failed, ErrMissingSignature or ErrBadSignature: refuse the delivery.
//   - Failed, ErrUnsupported: p is not a provider this package knows.
//
// Every comparison is constant-time, and no error holds the secret, the
// expected MAC or what the delivery sent.
func Verify(p v1alpha1.Provider, h http.Header, body, secret []byte) (v1alpha1.VerificationResult, error) {
	var err error
	switch p {
	case v1alpha1.ProviderDockerHub:
		return v1alpha1.VerificationUnverified, nil
	case v1alpha1.ProviderDistribution:
		auth := h.Get(headerAuthorization)
		if auth == "" || len(secret) == 0 {
			return v1alpha1.VerificationUnverified, nil
		}
		err = verifyAuthorization(p, auth, secret)
	case v1alpha1.ProviderGitHub, v1alpha1.ProviderGitea, v1alpha1.ProviderGitLab,
		v1alpha1.ProviderHarbor, v1alpha1.ProviderGeneric:
		if len(secret) == 0 {
			return v1alpha1.VerificationUnverified, fmt.Errorf("%w: %s deliveries are signed or carry a token; give the Trigger a secretRef", ErrNoSecret, p)
		}
		err = verifySigned(p, h, body, secret)
	default:
		return v1alpha1.VerificationFailed, unknownProvider(p)
	}
	if err != nil {
		return v1alpha1.VerificationFailed, err
	}
	return v1alpha1.VerificationVerified, nil
}

// verifySigned checks a provider that must sign or authenticate, with a
// non-empty secret.
func verifySigned(p v1alpha1.Provider, h http.Header, body, secret []byte) error {
	switch p {
	case v1alpha1.ProviderGitHub:
		sig := h.Get(headerGitHubSig256)
		if sig == "" {
			if h.Get(headerGitHubSigSHA1) != "" {
				return fmt.Errorf("%w: the delivery has only %s (HMAC-SHA1); TinyForge checks %s, which GitHub sends when the webhook has a secret",
					ErrMissingSignature, headerGitHubSigSHA1, headerGitHubSig256)
			}
			return fmt.Errorf("%w: no %s header; set the webhook's secret in GitHub", ErrMissingSignature, headerGitHubSig256)
		}
		return checkPrefixedHMAC(headerGitHubSig256, sig, body, secret)
	case v1alpha1.ProviderGitea:
		for _, name := range []string{headerGiteaSignature, headerForgejoSig, headerGitHubSig256} {
			if sig := h.Get(name); sig != "" {
				// Gitea's own header is bare hex; accept the prefix too.
				return checkHMAC(name, strings.TrimPrefix(strings.TrimSpace(sig), "sha256="), body, secret)
			}
		}
		return fmt.Errorf("%w: none of %s, %s or %s is set; set the webhook's secret in Gitea",
			ErrMissingSignature, headerGiteaSignature, headerForgejoSig, headerGitHubSig256)
	case v1alpha1.ProviderGitLab:
		token := h.Get(headerGitLabToken)
		if token == "" {
			return fmt.Errorf("%w: no %s header; set the webhook's secret token in GitLab", ErrMissingSignature, headerGitLabToken)
		}
		if !tokenEqual(token, secret) {
			return fmt.Errorf("%w: %s is not the trigger's secret", ErrBadSignature, headerGitLabToken)
		}
		return nil
	case v1alpha1.ProviderGeneric:
		if sig := h.Get(headerTinyForgeSignature); sig != "" {
			return checkPrefixedHMAC(headerTinyForgeSignature, sig, body, secret)
		}
		auth := h.Get(headerAuthorization)
		if auth == "" {
			return fmt.Errorf("%w: neither %s (sha256=<hex HMAC-SHA256 of the body>) nor %s (Bearer <secret>) is set",
				ErrMissingSignature, headerTinyForgeSignature, headerAuthorization)
		}
		token, ok := bearer(auth)
		if !ok {
			return fmt.Errorf("%w: %s is not \"Bearer <secret>\"", ErrBadSignature, headerAuthorization)
		}
		if !tokenEqual(token, secret) {
			return fmt.Errorf("%w: the %s bearer token is not the trigger's secret", ErrBadSignature, headerAuthorization)
		}
		return nil
	case v1alpha1.ProviderHarbor:
		auth := h.Get(headerAuthorization)
		if auth == "" {
			return fmt.Errorf("%w: no %s header; set the webhook's auth header in Harbor to the trigger's secret", ErrMissingSignature, headerAuthorization)
		}
		return verifyAuthorization(p, auth, secret)
	}
	return unknownProvider(p)
}

// verifyAuthorization checks an Authorization header that carries the secret
// either as a bearer token or bare (Harbor sends whatever it was told to).
// Both forms are compared, so the time taken does not tell which was tried.
func verifyAuthorization(p v1alpha1.Provider, auth string, secret []byte) error {
	token, isBearer := bearer(auth)
	bareOK := tokenEqual(strings.TrimSpace(auth), secret)
	bearerOK := tokenEqual(token, secret) && isBearer
	if !bareOK && !bearerOK {
		return fmt.Errorf("%w: the %s header of the %s delivery is neither \"Bearer <secret>\" nor the secret", ErrBadSignature, headerAuthorization, p)
	}
	return nil
}

// checkPrefixedHMAC checks a "sha256=<hex>" signature header.
func checkPrefixedHMAC(header, value string, body, secret []byte) error {
	mac, ok := strings.CutPrefix(strings.TrimSpace(value), "sha256=")
	if !ok {
		return fmt.Errorf("%w: %s is not of the form sha256=<hex>", ErrBadSignature, header)
	}
	return checkHMAC(header, mac, body, secret)
}

// checkHMAC checks a hex HMAC-SHA256 of body keyed with secret.
func checkHMAC(header, hexMAC string, body, secret []byte) error {
	got, err := hex.DecodeString(strings.TrimSpace(hexMAC))
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: %s is not a hex HMAC-SHA256", ErrBadSignature, header)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: %s does not match the body signed with the trigger's secret", ErrBadSignature, header)
	}
	return nil
}

// tokenEqual compares a token with the secret in constant time. Hashing
// both first makes the time independent of their lengths too.
func tokenEqual(token string, secret []byte) bool {
	a := sha256.Sum256([]byte(token))
	b := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// bearer returns the token of an "Authorization: Bearer <token>" value; the
// scheme is case-insensitive.
func bearer(auth string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(auth), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// unknownProvider is the error for a provider value this package does not
// know.
func unknownProvider(p v1alpha1.Provider) error {
	return fmt.Errorf("%w: provider %q is not one of github, gitlab, gitea, dockerhub, distribution, harbor or generic",
		ErrUnsupported, truncate(string(p), 64))
}
