"""The schema of the state database, one entry per version. Append only; never edit an entry.

Config and state are apart: `pods.plan` and `containers.plan` hold the immutable plan as JSON;
`pod_state` and `container_state` hold what changes, with CHECK constraints on every enum.
"""

MIGRATIONS: list[list[str]] = [
    # 1: images, pods, containers, networks, leases, volumes
    [
        """CREATE TABLE images (
            id TEXT PRIMARY KEY,                 -- config digest
            manifest_digest TEXT NOT NULL,
            record TEXT NOT NULL,                -- ImageRecord as JSON
            size INTEGER NOT NULL CHECK (size >= 0),
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE image_names (
            name TEXT PRIMARY KEY,               -- registry/repository:tag, as pulled or tagged
            image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
        )""",
        """CREATE TABLE image_layers (
            image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            position INTEGER NOT NULL CHECK (position >= 0),
            diff_id TEXT NOT NULL,               -- uncompressed digest: names the unpacked layer dir
            blob_digest TEXT NOT NULL,           -- compressed digest: names the blob
            media_type TEXT NOT NULL,
            PRIMARY KEY (image_id, position)
        )""",
        "CREATE INDEX image_layers_diff_id ON image_layers(diff_id)",
        """CREATE TABLE pods (
            name TEXT PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            plan TEXT NOT NULL,                  -- PodPlan as JSON: config, never changed
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE pod_state (
            pod_name TEXT PRIMARY KEY REFERENCES pods(name) ON DELETE CASCADE,
            phase TEXT NOT NULL CHECK (phase IN
                ('Pending', 'Running', 'Succeeded', 'Failed', 'Stopped', 'Unknown')),
            ip TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE containers (
            id TEXT PRIMARY KEY,
            pod_name TEXT NOT NULL REFERENCES pods(name) ON DELETE CASCADE,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('infra', 'init', 'member')),
            position INTEGER NOT NULL CHECK (position >= 0),
            image_id TEXT,                       -- NULL for the infra container
            plan TEXT,                           -- ContainerPlan as JSON; NULL for the infra container
            UNIQUE (pod_name, role, name)
        )""",
        "CREATE INDEX containers_image_id ON containers(image_id)",
        """CREATE TABLE container_state (
            container_id TEXT PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE,
            status TEXT NOT NULL CHECK (status IN ('created', 'running', 'exited', 'paused')),
            pid INTEGER,
            exit_code INTEGER,
            restart_count INTEGER NOT NULL DEFAULT 0 CHECK (restart_count >= 0),
            started_at REAL,
            finished_at REAL,
            ready INTEGER NOT NULL DEFAULT 0 CHECK (ready IN (0, 1)),
            reason TEXT NOT NULL DEFAULT '',
            boot_id TEXT NOT NULL DEFAULT ''     -- the run root's boot marker when pid was recorded
        )""",
        """CREATE TABLE networks (
            name TEXT PRIMARY KEY,
            subnet TEXT NOT NULL UNIQUE,
            gateway TEXT NOT NULL,
            bridge TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            config TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE leases (
            network TEXT NOT NULL REFERENCES networks(name) ON DELETE CASCADE,
            ip TEXT NOT NULL,
            pod_name TEXT NOT NULL,
            PRIMARY KEY (network, ip),
            UNIQUE (network, pod_name)
        )""",
        """CREATE TABLE volumes (
            name TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            created_at REAL NOT NULL,
            labels TEXT NOT NULL DEFAULT '{}'
        )""",
    ],
    # 2: the restart back-off step of a container, apart from its restart count (it resets after
    # ten minutes of running, as the kubelet's does, while the count keeps growing)
    [
        "ALTER TABLE container_state ADD COLUMN backoff_step INTEGER NOT NULL DEFAULT 0 CHECK (backoff_step >= 0)",
        "ALTER TABLE container_state ADD COLUMN restart_at REAL",
    ],
    # 3: readiness as probes find it, and the events of pods (probe failures, kills, hooks, starts).
    # readiness_gated is config: whether the plan has a readiness or startup probe or a postStart hook.
    [
        "ALTER TABLE containers ADD COLUMN readiness_gated INTEGER NOT NULL DEFAULT 0 CHECK (readiness_gated IN (0, 1))",
        "ALTER TABLE container_state ADD COLUMN ready_changed_at REAL",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            pod_name TEXT NOT NULL REFERENCES pods(name) ON DELETE CASCADE,
            container TEXT NOT NULL DEFAULT '',  -- '' for the pod itself
            type TEXT NOT NULL CHECK (type IN ('Normal', 'Warning')),
            reason TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),  -- the same event repeated, as Kubernetes counts
            first_at REAL NOT NULL,
            last_at REAL NOT NULL
        )""",
        "CREATE INDEX events_pod ON events(pod_name, last_at)",
    ],
    # 4: the spec of the PersistentVolumeClaim a named volume was made for (its requested size,
    # access modes, storage class), so that generate gives the claim back as it was asked for
    [
        "ALTER TABLE volumes ADD COLUMN spec TEXT NOT NULL DEFAULT '{}'",
    ],
    # 5: Services: the plan as config; the cluster IP and host ports given to it as state; the
    # store's service range and cluster domain, fixed by the first Service
    [
        """CREATE TABLE service_settings (
            id INTEGER PRIMARY KEY CHECK (id = 1),   -- one row: the store's settings
            cidr TEXT NOT NULL,                      -- where cluster IPs come from
            cluster_domain TEXT NOT NULL             -- NAME.NAMESPACE.svc.<this>
        )""",
        """CREATE TABLE services (
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            plan TEXT NOT NULL,                      -- ServicePlan as JSON: config, never changed
            cluster_ip TEXT NOT NULL DEFAULT '',     -- '' for a headless Service
            ports TEXT NOT NULL DEFAULT '[]',        -- ServicePorts with their node ports given
            created_at REAL NOT NULL,
            PRIMARY KEY (namespace, name)
        )""",
        "CREATE UNIQUE INDEX services_cluster_ip ON services(cluster_ip) WHERE cluster_ip != ''",
        """CREATE TABLE service_host_ports (
            protocol TEXT NOT NULL CHECK (protocol IN ('TCP', 'UDP')),
            port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (protocol, port),
            FOREIGN KEY (namespace, name) REFERENCES services(namespace, name) ON DELETE CASCADE
        )""",
    ],
    # 6 (apply/rollout): Deployments as objects of their own, so one with replicas: 0 is kept and can be
    # scaled; the templates they ran, for `rollout history` and `undo`; and the digest of every other
    # object apply was given (ConfigMaps, Secrets, claims), for "unchanged" and for --prune
    [
        """CREATE TABLE deployments (
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            plan TEXT NOT NULL,                      -- DeploymentPlan as JSON, as applied last
            revision INTEGER NOT NULL CHECK (revision >= 1),
            condition TEXT NOT NULL DEFAULT '',      -- why the last roll stopped; '' when it did not
            created_at REAL NOT NULL,
            PRIMARY KEY (namespace, name)
        )""",
        """CREATE TABLE deployment_revisions (
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            template_hash TEXT NOT NULL,
            template TEXT NOT NULL,                  -- PodPlan of one replica as JSON
            cause TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            PRIMARY KEY (namespace, name, revision),
            FOREIGN KEY (namespace, name) REFERENCES deployments(namespace, name) ON DELETE CASCADE
        )""",
        """CREATE TABLE applied_objects (
            kind TEXT NOT NULL,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            file TEXT NOT NULL DEFAULT '',           -- the manifest it came from, for --prune
            digest TEXT NOT NULL,                    -- of its content as applied last
            PRIMARY KEY (kind, namespace, name)
        )""",
    ],
    # 7 (kubectl get): a container's previous run, kept when it starts again, for lastState in
    # `get -o yaml` and `describe` (exit_code and the times are cleared for the new run)
    [
        "ALTER TABLE container_state ADD COLUMN last_exit_code INTEGER",
        "ALTER TABLE container_state ADD COLUMN last_reason TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE container_state ADD COLUMN last_started_at REAL",
        "ALTER TABLE container_state ADD COLUMN last_finished_at REAL",
    ],
    # 8 (namespaces): pod names are unique per namespace. pods.name is the pod's key from here on
    # (kubeplay.names.pod_key: the name in namespace default, NAMESPACE_NAME elsewhere), so every
    # table that refers to a pod keeps doing so by one column, and the primary key keeps (namespace,
    # name) unique. Pods of other namespaces stored before get their keys in every table naming them
    # at once (the foreign keys are checked at the commit, when parents and children agree again).
    [
        "PRAGMA defer_foreign_keys = ON",
        """CREATE TEMP TABLE renamed_pods AS
            SELECT name AS old, json_extract(plan, '$.namespace') || '_' || name AS new FROM pods
            WHERE json_valid(plan) AND json_type(plan, '$.namespace') = 'text'
            AND json_extract(plan, '$.namespace') NOT IN ('', 'default')""",
        "UPDATE pod_state SET pod_name = (SELECT new FROM renamed_pods WHERE old = pod_name) "
        "WHERE pod_name IN (SELECT old FROM renamed_pods)",
        "UPDATE containers SET pod_name = (SELECT new FROM renamed_pods WHERE old = pod_name) "
        "WHERE pod_name IN (SELECT old FROM renamed_pods)",
        "UPDATE events SET pod_name = (SELECT new FROM renamed_pods WHERE old = pod_name) "
        "WHERE pod_name IN (SELECT old FROM renamed_pods)",
        "UPDATE leases SET pod_name = (SELECT new FROM renamed_pods WHERE old = pod_name) "
        "WHERE pod_name IN (SELECT old FROM renamed_pods)",
        "UPDATE pods SET name = (SELECT new FROM renamed_pods WHERE old = name) "
        "WHERE name IN (SELECT old FROM renamed_pods)",
        "DROP TABLE renamed_pods",
        """ALTER TABLE pods ADD COLUMN namespace TEXT NOT NULL DEFAULT 'default'
            CHECK (namespace = 'default' OR substr(name, 1, length(namespace) + 1) = namespace || '_')""",
        """UPDATE pods SET namespace = json_extract(plan, '$.namespace')
            WHERE json_valid(plan) AND json_type(plan, '$.namespace') = 'text'
            AND json_extract(plan, '$.namespace') NOT IN ('', 'default')""",
    ],
]
