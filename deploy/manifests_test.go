package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// manifests are the objects of deploy/k8s, decoded strictly, by kind.
type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	secrets     map[string]*corev1.Secret
	namespaces  map[string]*corev1.Namespace
	pdbs        map[string]*policyv1.PodDisruptionBudget
	scaled      map[string]*scaledObject
}

// docSeparator splits a multi-document YAML file.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// loadManifests decodes every document of every deploy/k8s/*.yaml file but
// kustomization.yaml into its API type with unknown and duplicate fields
// refused, and fails the test on any error or unexpected kind.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		secrets: map[string]*corev1.Secret{}, namespaces: map[string]*corev1.Namespace{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, scaled: map[string]*scaledObject{},
	}
	for _, file := range manifestFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSeparator.Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			if err := m.add([]byte(doc)); err != nil {
				t.Fatalf("%s, document %d: %v", file, i+1, err)
			}
		}
	}
	return m
}

// manifestFiles lists deploy/k8s/*.yaml but kustomization.yaml.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/k8s: %v", err)
	}
	return slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "kustomization.yaml" })
}

// stripComments drops YAML comment lines, to tell an empty document.
func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// add decodes one document by its apiVersion and kind.
func (m *manifests) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		return decodeInto(doc, m.deployments, func(o *appsv1.Deployment) string { return o.Name })
	case "v1 Service":
		return decodeInto(doc, m.services, func(o *corev1.Service) string { return o.Name })
	case "v1 Secret":
		return decodeInto(doc, m.secrets, func(o *corev1.Secret) string { return o.Name })
	case "v1 Namespace":
		return decodeInto(doc, m.namespaces, func(o *corev1.Namespace) string { return o.Name })
	case "policy/v1 PodDisruptionBudget":
		return decodeInto(doc, m.pdbs, func(o *policyv1.PodDisruptionBudget) string { return o.Name })
	case "keda.sh/v1alpha1 ScaledObject":
		return decodeInto(doc, m.scaled, func(o *scaledObject) string { return o.Name })
	}
	return &unexpectedKind{tm}
}

type unexpectedKind struct{ tm metav1.TypeMeta }

func (e *unexpectedKind) Error() string {
	return "unexpected kind " + e.tm.Kind + " (" + e.tm.APIVersion + "): add it to the strict decoder"
}

// decodeInto decodes doc strictly into a new T and stores it by name.
func decodeInto[T any](doc []byte, into map[string]*T, name func(*T) string) error {
	obj := new(T)
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return err
	}
	into[name(obj)] = obj
	return nil
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	for _, name := range []string{"webhooks-deliverer", "webhooks-publisher", "webhooks-logwriter"} {
		if m.deployments[name] == nil {
			t.Errorf("no Deployment %s", name)
		}
		if m.pdbs[name] == nil {
			t.Errorf("no PodDisruptionBudget %s", name)
		}
	}
	if m.services["webhooks-publisher"] == nil || m.secrets[secretName] == nil || m.scaled["webhooks-deliverer"] == nil {
		t.Errorf("want Service webhooks-publisher, Secret %s and ScaledObject webhooks-deliverer", secretName)
	}
	for name, pdb := range m.pdbs {
		d := m.deployments[name]
		if d == nil || !selects(pdb.Spec.Selector, d.Spec.Template.Labels) {
			t.Errorf("PodDisruptionBudget %s does not select the pods of a Deployment of the same name", name)
		}
	}
	if s := m.services["webhooks-publisher"]; s != nil && !labelsMatch(s.Spec.Selector, m.deployments["webhooks-publisher"].Spec.Template.Labels) {
		t.Errorf("Service webhooks-publisher does not select the publisher's pods")
	}
}

// A strict decoder is only a check if it refuses what it does not know.
func TestStrictDecoderRefusesUnknownFields(t *testing.T) {
	doc := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n")
	if err := (&manifests{deployments: map[string]*appsv1.Deployment{}}).add(doc); err == nil {
		t.Fatal("a misspelt field (replica) was accepted")
	}
}

// selects reports whether a label selector with matchLabels only selects labels.
func selects(sel *metav1.LabelSelector, labels map[string]string) bool {
	return sel != nil && len(sel.MatchExpressions) == 0 && labelsMatch(sel.MatchLabels, labels)
}

func labelsMatch(want, labels map[string]string) bool {
	if len(want) == 0 {
		return false
	}
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("k8s", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Namespace  string   `json:"namespace"`
		Resources  []string `json:"resources"`
		Images     []struct {
			Name    string `json:"name"`
			NewName string `json:"newName,omitempty"`
			NewTag  string `json:"newTag,omitempty"`
		} `json:"images"`
	}
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range manifestFiles(t) {
		want = append(want, filepath.Base(f))
	}
	got := slices.Clone(k.Resources)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources = %v, want every manifest %v", got, want)
	}
	m := loadManifests(t)
	if m.namespaces[k.Namespace] == nil {
		t.Errorf("kustomization namespace %q has no Namespace manifest", k.Namespace)
	}
	for _, d := range m.deployments {
		image := d.Spec.Template.Spec.Containers[0].Image
		if !slices.ContainsFunc(k.Images, func(i struct {
			Name    string `json:"name"`
			NewName string `json:"newName,omitempty"`
			NewTag  string `json:"newTag,omitempty"`
		}) bool {
			return strings.HasPrefix(image, i.Name+":")
		}) {
			t.Errorf("image %s of %s has no entry in the kustomization's images", image, d.Name)
		}
	}
}

// secretName is the Secret the workloads read.
const secretName = "webhooks-secrets"

// secretValue returns a key of the Secret, failing the test if absent.
func (m *manifests) secretValue(t *testing.T, name, key string) string {
	t.Helper()
	s := m.secrets[name]
	if s == nil {
		t.Fatalf("no Secret %s", name)
	}
	if v, ok := s.StringData[key]; ok {
		return v
	}
	if v, ok := s.Data[key]; ok {
		return string(bytes.TrimSpace(v))
	}
	t.Fatalf("Secret %s has no key %s", name, key)
	return ""
}
