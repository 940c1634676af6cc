// Command cert-manager-controller runs cert-manager's controllers (the ones a stock
// `cert-manager-controller` enables by default, less Venafi) as one host process against a
// kube-apiserver given by a kubeconfig, for the edge tests.
//
// Why this file exists: upstream's `main` lives in cmd/controller, a nested module
// (github.com/cert-manager/cert-manager/controller-binary) that the Go module proxy cannot serve,
// because its path does not match its directory. Every controller, issuer, the controller
// context and the metrics server are in the main module, which the proxy does serve; this file
// is only the wiring: flags (a subset of upstream's, same names and defaults), the context, the
// metrics endpoint and the control loops. Leader election, the config file, pprof and TLS on the
// metrics endpoint are left out: the tests run one instance. Certificate request back-off keeps
// upstream's defaults (1 h doubling to 32 h), which upstream sets only in its config file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"

	"github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/controller/acmechallenges"
	"github.com/cert-manager/cert-manager/pkg/controller/acmeorders"
	shimgateways "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/gateways"
	shimingresses "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	cracme "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/acme"
	crapprover "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	crvault "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/vault"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	certificatesmetrics "github.com/cert-manager/cert-manager/pkg/controller/certificates/metrics"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	dnsutil "github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"

	// The issuer types an Issuer or ClusterIssuer may name register themselves on import.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/vault"
)

// defaultControllers is upstream's DefaultEnabledControllers without the Venafi one (its client
// library is most of a Venafi-less build's size, and the tests have no Venafi service).
var defaultControllers = []string{
	issuers.ControllerName,
	clusterissuers.ControllerName,
	certificatesmetrics.ControllerName,
	shimingresses.ControllerName,
	acmeorders.ControllerName,
	acmechallenges.ControllerName,
	cracme.CRControllerName,
	crapprover.ControllerName,
	crca.CRControllerName,
	crselfsigned.CRControllerName,
	crvault.CRControllerName,
	trigger.ControllerName,
	issuing.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
}

type options struct {
	master, kubeconfig, namespace, clusterResourceNamespace string
	qps                                                     float32
	burst, workers, maxConcurrentChallenges                 int
	leaderElect                                             bool
	controllers                                             []string
	metricsAddress                                          string
	clusterIssuerAmbientCredentials, issuerAmbientCreds     bool
	enableCertificateOwnerRef                               bool
	solverImage                                             string
	dns01Nameservers                                        []string
	dns01NameserversOnly                                    bool
	http01SolverNameservers                                 []string
	dns01CheckRetryPeriod                                   time.Duration
	defaultIssuerName, defaultIssuerKind                    string
	defaultIssuerGroup                                      string
	autoCertificateAnnotations                              []string
	enableGatewayAPI                                        bool
	showVersion                                             bool
}

func main() {
	o := options{}
	fs := pflag.NewFlagSet("cert-manager-controller", pflag.ContinueOnError)
	fs.StringVar(&o.master, "master", "", "Optional apiserver host address to connect to.")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to a kubeconfig (out of cluster).")
	fs.StringVar(&o.namespace, "namespace", "", "If set, only this namespace is watched and ClusterIssuers are disabled.")
	fs.StringVar(&o.clusterResourceNamespace, "cluster-resource-namespace", "kube-system", "Namespace of the Secrets that ClusterIssuers reference.")
	fs.Float32Var(&o.qps, "kube-api-qps", 20, "Maximum queries per second to the apiserver (unless it has API Priority and Fairness).")
	fs.IntVar(&o.burst, "kube-api-burst", 50, "Maximum burst of queries to the apiserver.")
	fs.IntVar(&o.workers, "concurrent-workers", 5, "Workers per controller.")
	fs.IntVar(&o.maxConcurrentChallenges, "max-concurrent-challenges", 60, "Challenges processed at once.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "Not supported by this build: must stay false.")
	fs.StringSliceVar(&o.controllers, "controllers", []string{"*"}, "Controllers to run: '*' for the defaults ("+strings.Join(defaultControllers, ", ")+"), '-name' to drop one.")
	fs.StringVar(&o.metricsAddress, "metrics-listen-address", "0.0.0.0:9402", "Address of the Prometheus metrics endpoint.")
	fs.BoolVar(&o.clusterIssuerAmbientCredentials, "cluster-issuer-ambient-credentials", true, "Whether ClusterIssuers may use ambient credentials.")
	fs.BoolVar(&o.issuerAmbientCreds, "issuer-ambient-credentials", false, "Whether Issuers may use ambient credentials.")
	fs.BoolVar(&o.enableCertificateOwnerRef, "enable-certificate-owner-ref", false, "Whether a Certificate owns the Secret it writes.")
	fs.StringVar(&o.solverImage, "acme-http01-solver-image", "quay.io/jetstack/cert-manager-acmesolver:"+util.AppVersion, "Image of the ACME HTTP-01 solver pods.")
	fs.StringSliceVar(&o.dns01Nameservers, "dns01-recursive-nameservers", nil, "Nameservers (host:port) for ACME DNS-01 self checks.")
	fs.BoolVar(&o.dns01NameserversOnly, "dns01-recursive-nameservers-only", false, "Only query the nameservers above for DNS-01 self checks.")
	fs.StringSliceVar(&o.http01SolverNameservers, "acme-http01-solver-nameservers", nil, "Nameservers (host:port) for ACME HTTP-01 self checks; the system resolver when empty.")
	fs.DurationVar(&o.dns01CheckRetryPeriod, "dns01-check-retry-period", 10*time.Second, "Wait between DNS-01 propagation checks.")
	fs.StringVar(&o.defaultIssuerName, "default-issuer-name", "", "Issuer ingress-shim uses when an Ingress names none.")
	fs.StringVar(&o.defaultIssuerKind, "default-issuer-kind", "Issuer", "Kind of that issuer.")
	fs.StringVar(&o.defaultIssuerGroup, "default-issuer-group", "cert-manager.io", "Group of that issuer.")
	fs.StringSliceVar(&o.autoCertificateAnnotations, "auto-certificate-annotations", []string{"kubernetes.io/tls-acme"}, "Annotations that make ingress-shim request a certificate.")
	fs.BoolVar(&o.enableGatewayAPI, "enable-gateway-api", false, "Run the gateway-shim controller (Certificates for annotated Gateways) and let HTTP-01 use Gateway API; needs the Gateway API CRDs.")
	fs.BoolVar(&o.showVersion, "version", false, "Print the version and exit.")
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	fs.AddGoFlag(klogFlags.Lookup("v"))
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	if o.showVersion {
		fmt.Println(util.VersionInfo().GitVersion)
		return
	}

	logf.InitLogs()
	defer logf.FlushLogs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log, "controller")
	if err := run(ctx, o); err != nil {
		logf.Log.Error(err, "cert-manager controller failed")
		logf.FlushLogs()
		os.Exit(1)
	}
}

// enabledControllers resolves --controllers the way upstream does: '*' is the default set, a
// name adds a controller, '-name' removes one after everything else (and implies '*' when only
// removals are given); --enable-gateway-api adds gateway-shim, and --namespace drops the
// cluster-scoped clusterissuers.
func enabledControllers(o options) (sets.Set[string], error) {
	known := append(slices.Clone(defaultControllers), shimgateways.ControllerName)
	enabled, disabled := sets.New[string](), []string{}
	for _, name := range o.controllers {
		switch {
		case name == "*":
			enabled.Insert(defaultControllers...)
		case strings.HasPrefix(name, "-"):
			disabled = append(disabled, strings.TrimPrefix(name, "-"))
		case slices.Contains(known, name):
			enabled.Insert(name)
		default:
			return nil, fmt.Errorf("--controllers: unknown controller %q (this build has: %s)", name, strings.Join(known, ", "))
		}
	}
	if len(disabled) > 0 && enabled.Len() == 0 {
		enabled.Insert(defaultControllers...)
	}
	if o.enableGatewayAPI {
		enabled.Insert(shimgateways.ControllerName)
	}
	if o.namespace != "" {
		enabled.Delete(clusterissuers.ControllerName)
	}
	return enabled.Delete(disabled...), nil
}

func run(rootCtx context.Context, o options) error {
	if o.leaderElect {
		return errors.New("--leader-elect=true is not supported by this build (it runs one instance); pass --leader-elect=false")
	}
	enabled, err := enabledControllers(o)
	if err != nil {
		return err
	}
	log := logf.FromContext(rootCtx)
	log.Info("starting cert-manager controller", "version", util.VersionInfo().GitVersion, "controllers", sets.List(enabled))

	nameservers := o.dns01Nameservers
	if len(nameservers) == 0 {
		nameservers = dnsutil.RecursiveNameservers
	}
	factory, err := controller.NewContextFactory(rootCtx, controller.ContextOptions{
		Kubeconfig:         o.kubeconfig,
		APIServerHost:      o.master,
		KubernetesAPIQPS:   o.qps,
		KubernetesAPIBurst: o.burst,
		Namespace:          o.namespace,
		ACMEOptions: controller.ACMEOptions{
			HTTP01SolverImage:                 o.solverImage,
			HTTP01SolverResourceRequestCPU:    resource.MustParse("10m"),
			HTTP01SolverResourceRequestMemory: resource.MustParse("64Mi"),
			HTTP01SolverResourceLimitsCPU:     resource.MustParse("100m"),
			HTTP01SolverResourceLimitsMemory:  resource.MustParse("64Mi"),
			ACMEHTTP01SolverRunAsNonRoot:      true,
			DNS01Nameservers:                  nameservers,
			HTTP01SolverNameservers:           o.http01SolverNameservers,
			DNS01CheckRetryPeriod:             o.dns01CheckRetryPeriod,
			DNS01CheckAuthoritative:           !o.dns01NameserversOnly,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: o.maxConcurrentChallenges},
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace:        o.clusterResourceNamespace,
			ClusterIssuerAmbientCredentials: o.clusterIssuerAmbientCredentials,
			IssuerAmbientCredentials:        o.issuerAmbientCreds,
		},
		IngressShimOptions: controller.IngressShimOptions{
			DefaultIssuerName:                 o.defaultIssuerName,
			DefaultIssuerKind:                 o.defaultIssuerKind,
			DefaultIssuerGroup:                o.defaultIssuerGroup,
			DefaultAutoCertificateAnnotations: o.autoCertificateAnnotations,
			GatewayAPIExtraProtocols:          sets.New[string](),
		},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef:                           o.enableCertificateOwnerRef,
			CopiedAnnotationPrefixes:                 []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"},
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
		ConfigOptions: controller.ConfigOptions{EnableGatewayAPI: o.enableGatewayAPI},
	})
	if err != nil {
		return err
	}
	cctx, err := factory.Build()
	if err != nil {
		return err
	}

	g, ctx := errgroup.WithContext(rootCtx)
	listener, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.metricsAddress)
	if err != nil {
		return fmt.Errorf("listening for metrics on %s: %w", o.metricsAddress, err)
	}
	cctx.Metrics.SetupACMECollector(cctx.SharedInformerFactory.Acme().V1().Challenges().Lister())
	cctx.Metrics.SetupCertificateCollector(cctx.SharedInformerFactory.Certmanager().V1().Certificates().Lister())
	cctx.Metrics.SetupIssuerCollector(cctx.SharedInformerFactory.Certmanager().V1().Issuers().Lister())
	if enabled.Has(clusterissuers.ControllerName) {
		cctx.Metrics.SetupClusterIssuerCollector(cctx.SharedInformerFactory.Certmanager().V1().ClusterIssuers().Lister())
	}
	metricsServer := cctx.Metrics.NewServer(listener)
	g.Go(func() error {
		log.Info("serving metrics", "address", listener.Addr().String())
		if err := metricsServer.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return metricsServer.Shutdown(shutdown) //nolint:contextcheck // the root context is done
	})

	for name, construct := range controller.Known() {
		if !enabled.Has(name) {
			continue
		}
		loop, err := construct(factory)
		if err != nil {
			return fmt.Errorf("constructing controller %s: %w", name, err)
		}
		g.Go(func() error { return loop.Run(o.workers, ctx) })
	}
	cctx.SharedInformerFactory.Start(ctx.Done())
	cctx.KubeSharedInformerFactory.Start(ctx.Done())
	cctx.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	if o.enableGatewayAPI {
		cctx.GWShared.Start(ctx.Done())
	}

	err = g.Wait()
	if o.enableGatewayAPI {
		cctx.GWShared.Shutdown()
	}
	cctx.HTTP01ResourceMetadataInformersFactory.Shutdown()
	cctx.KubeSharedInformerFactory.Shutdown()
	cctx.SharedInformerFactory.Shutdown()
	return err
}
