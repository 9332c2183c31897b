module github.com/gatehouse/gatehouse/sdk/go

go 1.24.0

require (
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/hashicorp/golang-lru/v2 v2.0.7
	golang.org/x/sync v0.16.0
)
