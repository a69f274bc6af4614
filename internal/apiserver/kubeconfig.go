package apiserver

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes the admin kubeconfig, with a second context for the
// viewer, trusting the server's CA. It is rewritten at every start, since it
// only restates the tokens and certificate the data directory keeps.
func writeKubeconfig(path, server string, caPEM []byte, admin, viewer tokenUser) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["tinyforge"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: admin.Token}
	cfg.Contexts["tinyforge"] = &clientcmdapi.Context{Cluster: "tinyforge", AuthInfo: "admin", Namespace: "default"}
	if viewer.Token != "" {
		cfg.AuthInfos["viewer"] = &clientcmdapi.AuthInfo{Token: viewer.Token}
		cfg.Contexts["tinyforge-viewer"] = &clientcmdapi.Context{Cluster: "tinyforge", AuthInfo: "viewer", Namespace: "default"}
	}
	cfg.CurrentContext = "tinyforge"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig: %w", err)
	}
	return writeFile(path, data, 0o600)
}
