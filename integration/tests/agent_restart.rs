//! Issue 7: observation outlives the agent. Pinned links keep recording while no agent runs;
//! the next agent adopts the pinned ring buffer and delivers what happened meanwhile.

use std::{process::Command, time::Duration};

use palisade_integration::{
    agent::{require_root, Agent},
    cgroup::Cgroup,
};
use serde_json::Value;

fn execs_with(evs: &[Value], marker: &str) -> usize {
    evs.iter()
        .filter(|e| {
            e["process_exec"]["process"]["arguments"]
                .as_str()
                .is_some_and(|a| a.contains(marker))
        })
        .count()
}

#[test]
fn events_while_the_agent_is_dead_are_delivered_after_restart() {
    require_root();
    let pins = format!("/sys/fs/bpf/palisade-test/restart-{}", std::process::id());
    let first = Agent::start(&["--bpf-pin-dir", &pins]).unwrap();
    let cg = Cgroup::new("restart").unwrap();
    let run = |marker: &str| {
        let mut cmd = Command::new("/bin/true");
        cmd.arg(marker);
        cg.enter_before_exec(&mut cmd);
        assert!(cmd.status().unwrap().success());
    };
    run("before-crash");
    first
        .wait_events(Duration::from_secs(10), |e| {
            execs_with(e, "before-crash") == 1
        })
        .unwrap();
    first.kill().unwrap(); // SIGKILL: no clean-up, the pins stay

    // nobody drains the ring buffer now; the pinned links keep writing into it
    for i in 0..50 {
        run(&format!("while-dead-{i}"));
    }
    let second = Agent::start(&["--bpf-pin-dir", &pins]).unwrap();
    run("after-restart");
    let evs = second
        .wait_events(Duration::from_secs(15), |e| {
            execs_with(e, "while-dead-") == 50 && execs_with(e, "after-restart") == 1
        })
        .unwrap();
    let _ = std::fs::remove_dir_all(&pins);
    assert_eq!(
        execs_with(&evs, "while-dead-"),
        50,
        "every exec from while no agent ran is delivered"
    );
    assert_eq!(execs_with(&evs, "after-restart"), 1);
    assert!(std::fs::read_to_string(&second.log)
        .unwrap()
        .contains("adopted pinned process sensor state"));
    let s = second.status().unwrap();
    assert_eq!(
        s["kernel_counters"]["ringbuf_drops"], 0,
        "nothing was lost: {s}"
    );
}
