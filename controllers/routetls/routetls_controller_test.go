package routetls_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers"
	"github.com/tinyforge/tinyforge/controllers/routetls"
	"github.com/tinyforge/tinyforge/internal/apiserver/apiservertest"
	"github.com/tinyforge/tinyforge/internal/testcert"
	"github.com/tinyforge/tinyforge/plugins"
)

func init() { plugins.RegisterSource(fakeSource{}) }

// fakeSource deploys nothing and succeeds, so the workload controller lets
// Workloads be and deletes them at once; this controller never calls it.
type fakeSource struct{}

func (fakeSource) Kind() string                                                   { return "fake" }
func (fakeSource) Validate(*field.Path, []byte) field.ErrorList                   { return nil }
func (fakeSource) Teardown(context.Context, plugins.Deps, plugins.Workload) error { return nil }
func (fakeSource) Deploy(context.Context, plugins.Deps, plugins.Workload, plugins.DeploymentIntent) (plugins.DeployResult, error) {
	return plugins.DeployResult{Revision: "config"}, nil
}
func (fakeSource) Reconcile(context.Context, plugins.Deps, plugins.Workload) (plugins.ReconcileResult, error) {
	return plugins.ReconcileResult{Healthy: true}, nil
}

// env is a real API server with two controller managers electing a leader,
// as two server replicas run them, each feeding its own proxy (a fake).
type env struct {
	t     *testing.T
	c     client.Client
	ns    string
	mgrs  []manager.Manager
	certs []*routetls.FakeCerts
}

const timeout = 30 * time.Second

func start(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an API server")
	}
	s := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	if err := controllers.WaitForAPI(ctx, s.Admin); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ns: "default"}
	var done []chan error
	t.Cleanup(func() {
		cancel()
		for _, d := range done {
			<-d
		}
	})
	for range 2 {
		certs := routetls.NewFakeCerts()
		o := controllers.NewOptions()
		o.Certificates = certs
		mgr, err := controllers.NewManager(s.Admin, o)
		if err != nil {
			t.Fatal(err)
		}
		d := make(chan error, 1)
		go func() { d <- mgr.Start(ctx) }()
		done = append(done, d)
		e.mgrs = append(e.mgrs, mgr)
		e.certs = append(e.certs, certs)
	}
	c, err := client.New(s.Admin, client.Options{Scheme: controllers.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return e
}

func tlsRoute(host, secret string) tinyforgev1alpha1.Route {
	r := tinyforgev1alpha1.Route{Host: host, Port: 8080}
	if secret != "" {
		r.TLS = &tinyforgev1alpha1.RouteTLS{SecretName: secret}
	}
	return r
}

func (e *env) workload(name string, routes ...tinyforgev1alpha1.Route) {
	e.t.Helper()
	w := &tinyforgev1alpha1.Workload{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}}
	w.Spec.Source.Kind = "fake"
	w.Spec.Routes = routes
	if err := e.c.Create(context.Background(), w); err != nil {
		e.t.Fatalf("creating workload %s: %v", name, err)
	}
}

func (e *env) setRoutes(name string, routes ...tinyforgev1alpha1.Route) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		w := &tinyforgev1alpha1.Workload{}
		if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, w); err != nil {
			return err
		}
		w.Spec.Routes = routes
		return e.c.Update(context.Background(), w)
	})
	if err != nil {
		e.t.Fatalf("updating the routes of %s: %v", name, err)
	}
}

// secret creates or replaces a kubernetes.io/tls Secret.
func (e *env) secret(name string, certPEM, keyPEM []byte) {
	e.t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Type: corev1.SecretTypeTLS}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		err := e.c.Get(ctx, client.ObjectKeyFromObject(s), s)
		s.Data = map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}
		if apierrors.IsNotFound(err) {
			return e.c.Create(ctx, s)
		}
		if err != nil {
			return err
		}
		return e.c.Update(ctx, s)
	})
	if err != nil {
		e.t.Fatalf("writing Secret %s: %v", name, err)
	}
}

func (e *env) poll(what string, cond func() bool) {
	e.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitServed waits until every replica serves certPEM for host.
func (e *env) waitServed(host string, certPEM []byte) {
	e.t.Helper()
	e.poll(fmt.Sprintf("every replica to serve the new certificate for %s", host), func() bool {
		for _, c := range e.certs {
			if !bytes.Equal(c.Served(host), certPEM) {
				return false
			}
		}
		return true
	})
}

// waitRemoved waits until every replica removed host's certificate.
func (e *env) waitRemoved(host string) {
	e.t.Helper()
	e.poll(fmt.Sprintf("every replica to remove the certificate of %s", host), func() bool {
		for _, c := range e.certs {
			if _, removes := c.Counts(host); c.Served(host) != nil || removes == 0 {
				return false
			}
		}
		return true
	})
}

// waitEvent waits for a core Event on a workload and returns it.
func (e *env) waitEvent(workload, kind, reason string) corev1.Event {
	e.t.Helper()
	var found corev1.Event
	var seen []string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var list corev1.EventList
		if err := e.c.List(ctx, &list, client.InNamespace(e.ns)); err != nil {
			return false, nil
		}
		seen = seen[:0]
		for _, ev := range list.Items {
			if ev.InvolvedObject.Kind != "Workload" || ev.InvolvedObject.Name != workload {
				continue
			}
			seen = append(seen, ev.Type+" "+ev.Reason+": "+ev.Message)
			if ev.Type == kind && ev.Reason == reason {
				found = ev
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		e.t.Fatalf("waiting for a %s %s Event on workload %s: %v; its Events: %q", kind, reason, workload, err, seen)
	}
	return found
}

// quotesKey tells whether msg contains part of a PEM key's body.
func quotesKey(msg string, keyPEM []byte) bool {
	b, _ := pem.Decode(keyPEM)
	body := strings.ReplaceAll(strings.TrimSpace(string(pem.EncodeToMemory(b))), "\n", "")
	for i := 0; i+16 <= len(body); i += 16 {
		if chunk := body[i : i+16]; !strings.Contains(chunk, "-----") && strings.Contains(msg, chunk) {
			return true
		}
	}
	return false
}

func TestRouteCertificates(t *testing.T) {
	e := start(t)
	webCert, webKey := testcert.SelfSigned(t, "web.example.test", "web.default.localhost")

	t.Run("a Secret's certificate is loaded on every replica, leader or not", func(t *testing.T) {
		e.t = t
		e.secret("web-tls", webCert, webKey)
		e.workload("web",
			tlsRoute("web.example.test", "web-tls"),
			tlsRoute("", "web-tls"), // the default host, web.default.localhost
			tlsRoute("plain.example.test", ""))
		e.waitServed("web.example.test", webCert)
		e.waitServed("web.default.localhost", webCert)
		// Exactly one manager leads; both serve, so the standby's
		// controller runs without the lease.
		e.poll("one leader", func() bool {
			elected := 0
			for _, m := range e.mgrs {
				select {
				case <-m.Elected():
					elected++
				default:
				}
			}
			return elected == 1
		})
		for i, c := range e.certs {
			if c.Served("plain.example.test") != nil {
				t.Errorf("replica %d serves a certificate for a route without tls", i)
			}
		}
	})

	t.Run("a route removed, then its tls removed, lets each host go", func(t *testing.T) {
		e.t = t
		e.setRoutes("web", tlsRoute("web.example.test", "web-tls"), tlsRoute("plain.example.test", ""))
		e.waitRemoved("web.default.localhost")
		for i, c := range e.certs {
			if !bytes.Equal(c.Served("web.example.test"), webCert) {
				t.Errorf("replica %d stopped serving the host still routed with tls", i)
			}
		}
		e.setRoutes("web", tlsRoute("web.example.test", ""), tlsRoute("plain.example.test", ""))
		e.waitRemoved("web.example.test")
	})

	lateCert, lateKey := testcert.SelfSigned(t, "late.example.test")
	t.Run("a Secret created late is picked up", func(t *testing.T) {
		e.t = t
		e.workload("late", tlsRoute("late.example.test", "late-tls"))
		ev := e.waitEvent("late", corev1.EventTypeWarning, routetls.EventReasonSecretNotFound)
		if !strings.Contains(ev.Message, `"late-tls"`) || !strings.Contains(ev.Message, "late.example.test") {
			t.Errorf("event message %q names neither the Secret nor the host", ev.Message)
		}
		for i, c := range e.certs {
			if c.Served("late.example.test") != nil {
				t.Errorf("replica %d serves a certificate without its Secret", i)
			}
		}
		e.secret("late-tls", lateCert, lateKey)
		e.waitServed("late.example.test", lateCert)
		e.waitEvent("late", corev1.EventTypeNormal, routetls.EventReasonCertificateLoaded)
	})

	renewed, renewedKey := testcert.SelfSigned(t, "late.example.test")
	t.Run("a changed Secret serves its new certificate", func(t *testing.T) {
		e.t = t
		e.secret("late-tls", renewed, renewedKey)
		e.waitServed("late.example.test", renewed)
	})

	t.Run("a bad key pair is a Warning naming the Secret, and the last good certificate keeps serving", func(t *testing.T) {
		e.t = t
		_, otherKey := testcert.SelfSigned(t, "late.example.test")
		next, _ := testcert.SelfSigned(t, "late.example.test")
		e.secret("late-tls", next, otherKey)
		ev := e.waitEvent("late", corev1.EventTypeWarning, routetls.EventReasonInvalidCertificate)
		if !strings.Contains(ev.Message, `"late-tls"`) || !strings.Contains(ev.Message, "not a usable key pair") {
			t.Errorf("event message %q does not name the Secret and the problem", ev.Message)
		}
		if quotesKey(ev.Message, otherKey) {
			t.Errorf("event message %q quotes the key", ev.Message)
		}
		for i, c := range e.certs {
			if !bytes.Equal(c.Served("late.example.test"), renewed) {
				t.Errorf("replica %d dropped the last good certificate", i)
			}
		}

		// A workload whose Secret was never good gets nothing and a Warning.
		e.secret("bad-tls", webCert, otherKey)
		e.workload("bad", tlsRoute("bad.example.test", "bad-tls"))
		ev = e.waitEvent("bad", corev1.EventTypeWarning, routetls.EventReasonInvalidCertificate)
		if !strings.Contains(ev.Message, `"bad-tls"`) || quotesKey(ev.Message, otherKey) {
			t.Errorf("event message %q", ev.Message)
		}
		for i, c := range e.certs {
			if c.Served("bad.example.test") != nil {
				t.Errorf("replica %d serves a bad key pair", i)
			}
		}
	})

	t.Run("a deleted workload lets its hosts go", func(t *testing.T) {
		e.t = t
		w := &tinyforgev1alpha1.Workload{ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: e.ns}}
		if err := e.c.Delete(context.Background(), w); err != nil {
			t.Fatal(err)
		}
		e.waitRemoved("late.example.test")
	})

	t.Run("a deleted Secret stops its certificate", func(t *testing.T) {
		e.t = t
		e.setRoutes("web", tlsRoute("web.example.test", "web-tls"))
		e.waitServed("web.example.test", webCert)
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web-tls", Namespace: e.ns}}
		if err := e.c.Delete(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		e.waitRemoved("web.example.test")
		e.waitEvent("web", corev1.EventTypeWarning, routetls.EventReasonSecretNotFound)
	})
}

// TestLoadedOutlivesTheManager: a manager started again in the same process
// (after a lost Lease) with the record of what its predecessor loaded
// removes the certificate of a Workload deleted while no manager ran, which
// no list would show it.
func TestLoadedOutlivesTheManager(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	s := apiservertest.Start(t)
	if err := controllers.WaitForAPI(context.Background(), s.Admin); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(s.Admin, client.Options{Scheme: controllers.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	certs := routetls.NewFakeCerts()
	e := &env{t: t, c: c, ns: "default", certs: []*routetls.FakeCerts{certs}}
	loaded := &routetls.Loaded{}
	run := func() (stop func()) {
		mgr, err := ctrl.NewManager(s.Admin, ctrl.Options{
			Scheme:     controllers.Scheme(),
			Metrics:    metricsserver.Options{BindAddress: "0"},
			Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		})
		if err != nil {
			t.Fatal(err)
		}
		r := &routetls.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Certificates: certs, Loaded: loaded,
			Recorder: mgr.GetEventRecorderFor("routetls-test"), //nolint:staticcheck // core/v1 Events, as the server's
		}
		if err := r.SetupWithManager(mgr); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		}
	}

	certPEM, keyPEM := testcert.SelfSigned(t, "gone.example")
	e.secret("gone-tls", certPEM, keyPEM)
	e.workload("gone", tlsRoute("gone.example", "gone-tls"))
	stop := run()
	e.waitServed("gone.example", certPEM)
	stop()

	if err := c.Delete(context.Background(), &tinyforgev1alpha1.Workload{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: "default"}}); err != nil {
		t.Fatal(err)
	}
	stop = run()
	defer stop()
	e.waitRemoved("gone.example")
}
