# Two hosts on this machine, as a PyTorchJob's master and worker pods: network namespaces joined by
# a veth pair (veth-m, veth-w), each with its own address (10.77.0.1, .2), hostname (a UTS
# namespace per process) and /etc/hosts in place of the cluster's DNS. Sourced by
# scripts/check-pods.sh and scripts/bench-pods.sh; needs root. Defines pods, pods_up, pods_down,
# pod and pod_pet (a worker with the variables Kubeflow's operators set), pods_link_rate and
# pods_tx_bytes.
pods=(tilt-dpo-master-0 tilt-dpo-worker-0)
pod_addrs=(10.77.0.1 10.77.0.2)
pod_devs=(veth-m veth-w)

pods_down() {
  local i
  for i in 0 1; do
    ip netns pids "${pods[$i]}" 2> /dev/null | xargs -r kill -9 2> /dev/null || true
    ip netns del "${pods[$i]}" 2> /dev/null || true
    rm -rf "/etc/netns/${pods[$i]}"
  done
  ip link del veth-m 2> /dev/null || true # left by a pods_up that stopped half-way
}

pods_up() {
  [[ $EUID -eq 0 ]] || { echo "pods: needs root (ip netns, unshare --uts)" >&2; return 1; }
  pods_down
  ip link add veth-m type veth peer name veth-w
  local i ns
  for i in 0 1; do
    ns="${pods[$i]}"
    ip netns add "$ns"
    ip link set "${pod_devs[$i]}" netns "$ns"
    ip -n "$ns" addr add "${pod_addrs[$i]}/24" dev "${pod_devs[$i]}"
    ip -n "$ns" link set "${pod_devs[$i]}" up
    ip -n "$ns" link set lo up
    mkdir -p "/etc/netns/$ns" # ip netns exec mounts its files over /etc
    printf '127.0.0.1 localhost\n%s %s\n%s %s\n' \
      "${pod_addrs[0]}" "${pods[0]}" "${pod_addrs[1]}" "${pods[1]}" > "/etc/netns/$ns/hosts"
  done
}

# pods_link_rate RATE: each direction of the link limited to RATE (tc's words: 10gbit, 1gbit), or
# unlimited with "none"
pods_link_rate() {
  local i
  for i in 0 1; do
    tc -n "${pods[$i]}" qdisc del dev "${pod_devs[$i]}" root 2> /dev/null || true
    [[ "$1" == none ]] || tc -n "${pods[$i]}" qdisc add dev "${pod_devs[$i]}" root tbf rate "$1" \
      burst 1mb latency 100ms
  done
}

# pod INDEX LOG PROGRAM ARGS...: PROGRAM as pod INDEX's worker, output to LOG, with the variables
# Kubeflow's training operator sets for a PyTorchJob of one process per pod
pod() {
  local i="$1" log="$2"
  shift 2
  ip netns exec "${pods[$i]}" unshare --uts -- env MASTER_ADDR="${pods[0]}" MASTER_PORT=23456 \
    WORLD_SIZE=2 RANK="$i" PYTHONUNBUFFERED=1 \
    sh -c 'hostname "$0" && exec "$@"' "${pods[$i]}" "$@" > "$log" 2>&1
}

# pod_pet INDEX LOG PROGRAM ARGS...: the same with the variables torchrun reads for its arguments,
# which Kubeflow's operators set when the pod runs torchrun (a PyTorchJob's nprocPerNode, a Trainer
# v2 TrainJob): PET_NNODES, PET_NPROC_PER_NODE, PET_NODE_RANK, PET_MASTER_ADDR, PET_MASTER_PORT
pod_pet() {
  local i="$1" log="$2"
  shift 2
  ip netns exec "${pods[$i]}" unshare --uts -- env PET_NNODES=2 PET_NPROC_PER_NODE=1 \
    PET_NODE_RANK="$i" PET_MASTER_ADDR="${pods[0]}" PET_MASTER_PORT=23456 PYTHONUNBUFFERED=1 \
    sh -c 'hostname "$0" && exec "$@"' "${pods[$i]}" "$@" > "$log" 2>&1
}

# pods_tx_bytes: bytes the master pod has sent over the link
pods_tx_bytes() {
  ip -n "${pods[0]}" -s -j link show veth-m |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["bytes"])'
}
