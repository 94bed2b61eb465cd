package server

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics adds collectors to the service's registry (served at
// /metrics): the collateral refresher's, which is wired outside the
// server.
func (s *Server) RegisterMetrics(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := s.metrics.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
