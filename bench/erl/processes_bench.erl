%% The BEAM baseline for bench/processes.ts: the same process workloads, timed the same way
%% (best of Runs, erlang:monotonic_time), and memory per idle process. One line per figure:
%%   RESULT <metric> <case> <value> <unit>
%% Keep the cases in step with bench/processes.ts.
-module(processes_bench).
-export([main/1]).

%% MemNs = []: the timed cases; otherwise only the memory cases for those counts.
main([SpawnN, OneWayN, PingPongN, Runs, []]) ->
    Spawn = best(Runs, fun() -> spawn_exit(SpawnN) end),
    report(spawn, 'spawn+exit', SpawnN * 1.0e6 / Spawn, 'ops/s'),
    OneWay = best(Runs, fun() -> one_way(OneWayN) end),
    report(send_receive, 'one-way', OneWayN * 1.0e6 / OneWay, 'msg/s'),
    PingPong = best(Runs, fun() -> ping_pong(PingPongN) end),
    report(send_receive, 'ping-pong', 2 * PingPongN * 1.0e6 / PingPong, 'msg/s'),
    ok;
main([_SpawnN, _OneWayN, _PingPongN, _Runs, MemNs]) ->
    [report(memory_per_process, "n=" ++ integer_to_list(N), memory_per_process(N), bytes)
     || N <- MemNs],
    ok.

report(Metric, Case, Value, Unit) ->
    io:format("RESULT ~s ~s ~.1f ~s~n", [Metric, Case, float(Value), Unit]).

best(Runs, Fun) ->
    lists:min([begin
                   T0 = erlang:monotonic_time(microsecond),
                   Fun(),
                   erlang:monotonic_time(microsecond) - T0
               end || _ <- lists:seq(1, Runs)]).

%% N children; each sends child_done to the parent and returns.
spawn_exit(N) ->
    Self = self(),
    spawn_n(N, fun() -> Self ! child_done end),
    wait(N).

spawn_n(0, _Fun) -> ok;
spawn_n(N, Fun) -> spawn(Fun), spawn_n(N - 1, Fun).

wait(0) -> ok;
wait(N) -> receive child_done -> wait(N - 1) end.

%% A producer sends N {msg, I} to a consumer, which replies done after the last one.
one_way(N) ->
    Self = self(),
    Consumer = spawn(fun() -> consume(N), Self ! done end),
    produce(Consumer, 1, N),
    receive done -> ok end.

produce(_To, I, N) when I > N -> ok;
produce(To, I, N) -> To ! {msg, I}, produce(To, I + 1, N).

consume(0) -> ok;
consume(N) -> receive {msg, _} -> consume(N - 1) end.

%% N round trips between two processes.
ping_pong(N) ->
    Ponger = spawn(fun pong/0),
    ping(Ponger, N),
    exit(Ponger, kill),
    ok.

ping(_Ponger, 0) -> ok;
ping(Ponger, N) ->
    Ponger ! {ping, self()},
    receive pong -> ping(Ponger, N - 1) end.

pong() ->
    receive {ping, From} -> From ! pong, pong() end.

%% erlang:memory(processes) grown by N idle processes (each waiting in a receive), per process.
%% A holder spawns them linked, keeping no list of pids; killing it kills them all.
memory_per_process(N) ->
    Self = self(),
    Base = length(erlang:processes()),
    erlang:garbage_collect(),
    Before = erlang:memory(processes),
    Holder = spawn(fun() ->
                           hold(N),
                           Self ! ready,
                           receive after infinity -> ok end
                   end),
    receive ready -> ok end,
    settle(),
    After = erlang:memory(processes),
    Ref = monitor(process, Holder),
    exit(Holder, kill),
    receive {'DOWN', Ref, process, Holder, _} -> ok end,
    wait_gone(Base),
    (After - Before) / N.

hold(0) -> ok;
hold(N) -> spawn_link(fun idle/0), hold(N - 1).

idle() -> receive stop -> ok end.

%% Wait until every spawned process has run up to its receive (the run queues are empty).
settle() ->
    case erlang:statistics(total_run_queue_lengths_all) of
        0 -> ok;
        _ -> timer:sleep(10), settle()
    end.

%% Wait until the killed processes are gone (their exits are asynchronous).
wait_gone(Base) ->
    case length(erlang:processes()) =< Base + 1 of
        true -> ok;
        false -> timer:sleep(10), wait_gone(Base)
    end.
