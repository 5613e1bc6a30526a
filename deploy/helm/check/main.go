// Command check reads `helm template` output on standard input and decodes every object STRICTLY into the
// official Kubernetes Go types (k8s.io/api): an unknown or misspelt field, a duplicate key or a wrong type is an
// error. The CRDs the chart renders (cert-manager Certificate and Issuer, prometheus-operator ServiceMonitor)
// are decoded into minimal structs of their documented fields, also with unknown fields rejected. Then it checks
// what the chart promises: the pods' security settings, the probes, and the webhook's path, CA and selectors.
//
//	helm template ... | check -namespace NS [-expect Kind,...] [-forbid Kind,...] [-dump-configmaps DIR]
//
// It prints one line per object and exits 1 on the first failure.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// ---- minimal CRD types (documented fields only; unknown ones are rejected) ------------------------------------

// cert-manager.io/v1 Certificate.
type Certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName  string   `json:"secretName"`
		CommonName  string   `json:"commonName,omitempty"`
		DNSNames    []string `json:"dnsNames,omitempty"`
		IPAddresses []string `json:"ipAddresses,omitempty"`
		Duration    string   `json:"duration,omitempty"`
		RenewBefore string   `json:"renewBefore,omitempty"`
		IsCA        bool     `json:"isCA,omitempty"`
		Usages      []string `json:"usages,omitempty"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm,omitempty"`
			Size           int    `json:"size,omitempty"`
			Encoding       string `json:"encoding,omitempty"`
			RotationPolicy string `json:"rotationPolicy,omitempty"`
		} `json:"privateKey,omitempty"`
		IssuerRef struct {
			Name  string `json:"name"`
			Kind  string `json:"kind,omitempty"`
			Group string `json:"group,omitempty"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

// cert-manager.io/v1 Issuer (the two kinds the chart may use).
type Issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SelfSigned *struct {
			CRLDistributionPoints []string `json:"crlDistributionPoints,omitempty"`
		} `json:"selfSigned,omitempty"`
		CA *struct {
			SecretName string `json:"secretName"`
		} `json:"ca,omitempty"`
	} `json:"spec"`
}

// monitoring.coreos.com/v1 ServiceMonitor.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port            string `json:"port,omitempty"`
			TargetPort      *int   `json:"targetPort,omitempty"`
			Path            string `json:"path,omitempty"`
			Scheme          string `json:"scheme,omitempty"`
			Interval        string `json:"interval,omitempty"`
			ScrapeTimeout   string `json:"scrapeTimeout,omitempty"`
			HonorLabels     bool   `json:"honorLabels,omitempty"`
			BearerTokenFile string `json:"bearerTokenFile,omitempty"`
			TLSConfig       *struct {
				InsecureSkipVerify bool   `json:"insecureSkipVerify,omitempty"`
				ServerName         string `json:"serverName,omitempty"`
				CAFile             string `json:"caFile,omitempty"`
			} `json:"tlsConfig,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// ---- decoding -------------------------------------------------------------------------------------------------

func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "apps/v1/DaemonSet":
		return &appsv1.DaemonSet{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}, nil
	case "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration":
		return &admissionregistrationv1.MutatingWebhookConfiguration{}, nil
	case "cert-manager.io/v1/Certificate":
		return &Certificate{}, nil
	case "cert-manager.io/v1/Issuer":
		return &Issuer{}, nil
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &ServiceMonitor{}, nil
	}
	return nil, fmt.Errorf("no Go type known for apiVersion %q kind %q", apiVersion, kind)
}

func strictDecode(doc []byte, into any) error {
	js, err := yaml.YAMLToJSONStrict(doc) // rejects duplicate keys
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the object")
	}
	return nil
}

func splitDocs(r io.Reader) ([][]byte, error) {
	var docs [][]byte
	var cur bytes.Buffer
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	flush := func() {
		if len(bytes.TrimSpace(stripComments(cur.Bytes()))) > 0 {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
	}
	for sc.Scan() {
		line := sc.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") {
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return docs, sc.Err()
}

func stripComments(b []byte) []byte {
	var out bytes.Buffer
	for _, l := range strings.Split(string(b), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			out.WriteString(l + "\n")
		}
	}
	return out.Bytes()
}

// ---- the chart's promises -------------------------------------------------------------------------------------

type failures []string

func (f *failures) add(format string, args ...any) { *f = append(*f, fmt.Sprintf(format, args...)) }

func checkContainers(where string, spec corev1.PodSpec, f *failures) {
	if len(spec.Containers) == 0 {
		f.add("%s: no containers", where)
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			f.add("%s/%s: no securityContext", where, c.Name)
			continue
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			f.add("%s/%s: root filesystem is not read-only", where, c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			f.add("%s/%s: privilege escalation is not disabled", where, c.Name)
		case sc.Privileged != nil && *sc.Privileged:
			f.add("%s/%s: privileged", where, c.Name)
		case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
			f.add("%s/%s: capabilities are not all dropped", where, c.Name)
		}
		if c.Resources.Limits.Memory().IsZero() {
			f.add("%s/%s: no memory limit", where, c.Name)
		}
		if c.Image == "" {
			f.add("%s/%s: no image", where, c.Name)
		}
	}
}

func checkStatefulSet(s *appsv1.StatefulSet, f *failures) {
	where := "StatefulSet/" + s.Name
	spec := s.Spec.Template.Spec
	checkContainers(where, spec, f)
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != 10000 || psc.RunAsGroup == nil || *psc.RunAsGroup != 10000 ||
		psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.FSGroup == nil || *psc.FSGroup != 10000 {
		f.add("%s: pod securityContext must run as 10000:10000, non-root, fsGroup 10000", where)
	}
	if len(s.Spec.VolumeClaimTemplates) == 0 {
		f.add("%s: no volumeClaimTemplates", where)
	}
	if s.Spec.ServiceName == "" {
		f.add("%s: no serviceName", where)
	}
	for _, c := range spec.Containers {
		probe := func(name string, p *corev1.Probe, path string) {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path {
				f.add("%s/%s: %s probe must GET %s", where, c.Name, name, path)
			}
		}
		probe("liveness", c.LivenessProbe, "/healthz")
		probe("readiness", c.ReadinessProbe, "/readyz")
		probe("startup", c.StartupProbe, "/healthz")
		mounts := map[string]bool{}
		for _, m := range c.VolumeMounts {
			mounts[m.MountPath] = true
		}
		for _, p := range []string{"/data", "/etc/wharf/wharf.yaml", "/tmp"} {
			if !mounts[p] {
				f.add("%s/%s: nothing mounted at %s", where, c.Name, p)
			}
		}
	}
}

func checkWebhook(w *admissionregistrationv1.MutatingWebhookConfiguration, namespace string, f *failures) {
	where := "MutatingWebhookConfiguration/" + w.Name
	if len(w.Webhooks) == 0 {
		f.add("%s: no webhooks", where)
	}
	inject := w.Annotations["cert-manager.io/inject-ca-from"]
	for _, h := range w.Webhooks {
		svc := h.ClientConfig.Service
		if svc == nil || svc.Path == nil || *svc.Path != "/admission/rewrite" {
			f.add("%s/%s: clientConfig.service.path must be /admission/rewrite", where, h.Name)
		}
		if len(h.ClientConfig.CABundle) == 0 && inject == "" {
			f.add("%s/%s: neither a caBundle nor the cert-manager.io/inject-ca-from annotation", where, h.Name)
		}
		if h.FailurePolicy == nil || *h.FailurePolicy != admissionregistrationv1.Ignore {
			f.add("%s/%s: failurePolicy must be Ignore", where, h.Name)
		}
		if h.ReinvocationPolicy == nil || *h.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
			f.add("%s/%s: reinvocationPolicy must be IfNeeded", where, h.Name)
		}
		if h.SideEffects == nil || *h.SideEffects != admissionregistrationv1.SideEffectClassNone {
			f.add("%s/%s: sideEffects must be None", where, h.Name)
		}
		excluded := false
		if h.NamespaceSelector != nil {
			for _, e := range h.NamespaceSelector.MatchExpressions {
				if e.Key == "kubernetes.io/metadata.name" && e.Operator == metav1.LabelSelectorOpNotIn &&
					slices.Contains(e.Values, namespace) {
					excluded = true
				}
			}
		}
		if !excluded {
			f.add("%s/%s: namespaceSelector does not exclude wharf's own namespace %q", where, h.Name, namespace)
		}
	}
}

func main() {
	namespace := flag.String("namespace", "default", "the release namespace")
	expect := flag.String("expect", "", "comma-separated kinds that must be rendered")
	forbid := flag.String("forbid", "", "comma-separated kinds that must not be rendered")
	dump := flag.String("dump-configmaps", "", "a directory to write every ConfigMap data key into, as <key>")
	flag.Parse()

	docs, err := splitDocs(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check: reading input:", err)
		os.Exit(1)
	}
	var fails failures
	kinds := map[string]int{}
	names := map[string]bool{}
	dns1123 := regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	for i, doc := range docs {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil || tm.Kind == "" || tm.APIVersion == "" {
			fails.add("document %d: no apiVersion/kind (%v)", i+1, err)
			continue
		}
		obj, err := newObject(tm.APIVersion, tm.Kind)
		if err != nil {
			fails.add("document %d: %v", i+1, err)
			continue
		}
		if err := strictDecode(doc, obj); err != nil {
			fails.add("document %d (%s): strict decoding failed: %v", i+1, tm.Kind, err)
			continue
		}
		meta := obj.(metav1.Object)
		id := tm.Kind + "/" + meta.GetName()
		if meta.GetName() == "" || len(meta.GetName()) > 63 || !dns1123.MatchString(meta.GetName()) {
			fails.add("%s: bad name", id)
		}
		if names[id] {
			fails.add("%s: rendered twice", id)
		}
		names[id] = true
		kinds[tm.Kind]++
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			checkStatefulSet(o, &fails)
		case *appsv1.DaemonSet:
			checkContainers("DaemonSet/"+o.Name, o.Spec.Template.Spec, &fails)
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			checkWebhook(o, *namespace, &fails)
		case *corev1.ConfigMap:
			if *dump != "" {
				for k, v := range o.Data {
					if err := os.WriteFile(filepath.Join(*dump, k), []byte(v), 0o644); err != nil {
						fails.add("%s: writing %s: %v", id, k, err)
					}
				}
			}
		}
		fmt.Printf("ok %s (%s)\n", id, tm.APIVersion)
	}
	for _, k := range strings.Split(*expect, ",") {
		if k != "" && kinds[k] == 0 {
			fails.add("expected a %s, none rendered", k)
		}
	}
	for _, k := range strings.Split(*forbid, ",") {
		if k != "" && kinds[k] > 0 {
			fails.add("expected no %s, %d rendered", k, kinds[k])
		}
	}
	if len(docs) == 0 {
		fails.add("no objects rendered")
	}
	for _, f := range fails {
		fmt.Fprintln(os.Stderr, "FAIL:", f)
	}
	fmt.Printf("%d objects decoded strictly, %d problems\n", len(docs), len(fails))
	if len(fails) > 0 {
		os.Exit(1)
	}
}
