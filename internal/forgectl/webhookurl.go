package forgectl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
)

// Where the server publishes the ingress's public URL (internal/ingress).
const (
	ingressConfigMapNamespace = "tinyforge-system"
	ingressConfigMapName      = "tinyforge-ingress"
)

var (
	webhookURLLong = templates.LongDesc(`
		Print the URL to paste into a provider's webhook settings for a
		trigger: the ingress's public URL and the trigger's webhook path.

		The path is derived from the trigger's token and changes when the
		token does. Providers that sign deliveries (GitHub, Gitea, GitLab,
		generic) also need the token itself, which is in the Secret named by
		the trigger's status.secretName.`)

	webhookURLExample = templates.Examples(`
		# The URL for trigger site
		forgectl webhook-url trigger/site

		# Behind a reverse proxy or tunnel
		forgectl webhook-url trigger/site --base-url https://hooks.example.com`)
)

// WebhookURLOptions print a trigger's webhook URL.
type WebhookURLOptions struct {
	Namespace, Trigger string
	// BaseURL overrides the URL the server published.
	BaseURL string

	Client client.Client
	genericiooptions.IOStreams
}

// NewCmdWebhookURL returns `webhook-url`.
func NewCmdWebhookURL(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WebhookURLOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:                   "webhook-url (trigger/NAME | NAME) [--base-url=URL]",
		DisableFlagsInUseLine: true,
		Short:                 "Print the webhook URL of a trigger, to paste into the provider",
		Long:                  webhookURLLong,
		Example:               webhookURLExample,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(f, args))
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	cmd.Flags().StringVar(&o.BaseURL, "base-url", o.BaseURL, "Public base URL of the ingress (default: the one the server publishes)")
	return cmd
}

// Complete reads the trigger and builds the client.
func (o *WebhookURLOptions) Complete(f cmdutil.Factory, args []string) error {
	if len(args) != 1 {
		return errors.New("webhook-url takes one trigger: trigger/NAME")
	}
	typ, name, found := strings.Cut(args[0], "/")
	if !found {
		typ, name = "trigger", args[0]
	}
	switch strings.ToLower(typ) {
	case "trigger", "triggers", "trg", "trigger.tinyforge.dev", "triggers.tinyforge.dev":
	default:
		return fmt.Errorf("webhook-url works on triggers only: %q is not a trigger (use trigger/NAME)", args[0])
	}
	if name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("%q is not a trigger name", args[0])
	}
	o.Trigger = name
	var err error
	if o.Namespace, err = namespaceFrom(f); err != nil {
		return err
	}
	o.Client, err = newClient(f)
	return err
}

// Run prints the URL, and where the token is to stderr.
func (o *WebhookURLOptions) Run(ctx context.Context) error {
	var t tinyforgev1alpha1.Trigger
	if err := o.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Trigger}, &t); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("trigger %q not found in namespace %q", o.Trigger, o.Namespace)
		}
		return err
	}
	if t.Status.WebhookPath == "" {
		why := "the trigger controller has not published it yet"
		if c := meta.FindStatusCondition(t.Status.Conditions, tinyforgev1alpha1.ConditionReady); c != nil && c.Message != "" {
			why = c.Message
		}
		return fmt.Errorf("trigger %s has no webhook path: %s", o.Trigger, why)
	}
	base := o.BaseURL
	if base == "" {
		var cm corev1.ConfigMap
		if err := o.Client.Get(ctx, client.ObjectKey{Namespace: ingressConfigMapNamespace, Name: ingressConfigMapName}, &cm); err != nil {
			return fmt.Errorf("the server has published no ingress URL (is the ingress running?); pass --base-url: %w", err)
		}
		base = cm.Data["url"]
	}
	fmt.Fprintln(o.Out, strings.TrimRight(base, "/")+t.Status.WebhookPath)
	if t.Status.SecretName != "" {
		fmt.Fprintf(o.ErrOut, "Signing secret: forgectl get secret %s -n %s -o jsonpath='{.data.token}' | base64 -d\n", t.Status.SecretName, o.Namespace)
	}
	return nil
}
