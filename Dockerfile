# Multi-stage image of the Redswitch server.
#   docker build -t redswitch .        (or: docker compose up, with docker-compose.yml)
#   docker run --rm -e ESL_URL=fs1 -e PUBSUB_REDIS_URL=redis://redis:6379 -e OUTBOUND_ADVERTISE=<this host>:8084 \
#     -p 8084:8084 -p 9464:9464 --stop-timeout 40 redswitch
# OUTBOUND_ADVERTISE: the address FreeSWITCH can reach (not the container's bridge address). --stop-timeout (or
# Kubernetes terminationGracePeriodSeconds): DRAIN_TIMEOUT + about 10 s, so a drain is not killed half-way.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Redswitch.sln ./
COPY Redswitch.Protocol/Redswitch.Protocol.csproj Redswitch.Protocol/
COPY Redswitch.Calls/Redswitch.Calls.csproj Redswitch.Calls/
COPY Redswitch.Server/Redswitch.Server.csproj Redswitch.Server/
RUN dotnet restore Redswitch.Server/Redswitch.Server.csproj
COPY Redswitch.Protocol/ Redswitch.Protocol/
COPY Redswitch.Calls/ Redswitch.Calls/
COPY Redswitch.Server/ Redswitch.Server/
# .git is not in the build context: the commit comes as a build argument, so redswitch_build_info tells builds apart
#   docker build --build-arg GIT_SHA=$(git rev-parse --short HEAD) -t redswitch .
ARG GIT_SHA=unknown
RUN dotnet publish Redswitch.Server/Redswitch.Server.csproj -c Release -o /app --no-restore -p:SourceRevisionId=$GIT_SHA

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
# Outbound socket server (FreeSWITCH connects here) and /metrics, /healthz, /readyz.
EXPOSE 8084 9464
ENV OUTBOUND_LISTEN=0.0.0.0:8084 METRICS_LISTEN=0.0.0.0:9464 LOG_FORMAT=json
# Numeric, so that Kubernetes' runAsNonRoot can verify it (the base image's "app" user).
USER $APP_UID
STOPSIGNAL SIGTERM
# Alive, not ready: /healthz through the server's own verb (the image has no curl). An outage of Redis or FreeSWITCH
# keeps it healthy, so an orchestrator does not restart instances that are waiting for them (/readyz says that).
# Every 30 s: each check starts a .NET process (about 0.1 s of CPU).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["dotnet", "Redswitch.Server.dll", "check", "--local"]
ENTRYPOINT ["dotnet", "Redswitch.Server.dll"]
