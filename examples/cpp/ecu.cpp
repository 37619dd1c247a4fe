// A C++ ECU: publishes chassis/speed, serves body/set_drive_mode and follows the body/drive_mode
// field, on the types vbus-codegen generated from examples/schemas/vehicle.fbs.
//
//   vbus-cpp-ecu <node.json5> [--count N] [--rate-hz R] [--no-server]
//
// Publishes N samples (kph = 0.5 * i, odometer_m = i for i = 1..N) at R Hz once a subscriber
// matches, prints one line per event on stdout ("VBUS ready", "VBUS published N", "VBUS drive_mode
// Sport by x", "VBUS request Sport by x": the line protocol of vbus-test-support), and runs until stdin closes.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <vbus/vbus.hpp>

#include "vehicle.vbus.hpp"

namespace dv = demo::vehicle;
namespace topics = vbus_gen::vehicle::topics;
namespace services = vbus_gen::vehicle::services;
using namespace std::chrono_literals;

static void say(const std::string& line) {
  std::cout << "VBUS " << line << std::endl;  // one flushed line per event: the test reads them
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: vbus-cpp-ecu <node.json5> [--count N] [--rate-hz R] [--no-server]\n";
    return 2;
  }
  int count = 100;
  int rate_hz = 100;
  bool serve = true;
  for (int i = 2; i < argc; i++) {
    std::string flag = argv[i];
    if (flag == "--no-server") serve = false;
    else if (flag == "--count" && i + 1 < argc) count = std::atoi(argv[++i]);
    else if (flag == "--rate-hz" && i + 1 < argc) rate_hz = std::atoi(argv[++i]);
    else {
      std::cerr << "vbus-cpp-ecu: unknown option `" << flag << "`\n";
      return 2;
    }
  }
  try {
    vbus::Node node = vbus::Node::from_file(argv[1]);
    vbus::Publisher<topics::chassis::speed> speed(node);
    std::optional<vbus::ServiceServer<services::body::set_drive_mode>> server;
    if (serve) server.emplace(node);
    vbus::FieldClient<topics::body::drive_mode> mode(node);
    std::atomic<bool> stop{false};

    // A fault in a thread is reported on the line protocol ("VBUS error ..."), then ends it.
    auto guarded = [](auto body) {
      return [body] {
        try {
          body();
        } catch (const std::exception& e) {
          say(std::string("error ") + e.what());
        }
      };
    };
    std::thread serving(guarded([&] {
      while (serve && !stop) {
        server->serve_one(100ms, [](const dv::SetDriveMode& req, flatbuffers::FlatBufferBuilder& fbb) {
          std::string by = req.requested_by() ? req.requested_by()->str() : "";
          say(std::string("request ") + dv::EnumNameDriveMode(req.mode()) + " by " + by);
          bool ok = !by.empty();
          return dv::CreateSetDriveModeReply(fbb, ok, fbb.CreateString(ok ? "" : "requested_by is empty"));
        });
      }
    }));
    std::thread following(guarded([&] {
      while (!stop) {
        if (auto v = mode.wait_changed(100ms)) {
          std::string by = (*v)->changed_by() ? (*v)->changed_by()->str() : "";
          say(std::string("drive_mode ") + dv::EnumNameDriveMode((*v)->mode()) + " by " + by);
        }
      }
    }));

    say("ready");
    if (!speed.wait_for_subscribers(10s)) say("no subscriber");
    auto period = std::chrono::microseconds(1000000 / (rate_hz > 0 ? rate_hz : 1));
    auto next = std::chrono::steady_clock::now();
    for (int i = 1; i <= count; ++i) {
      speed.publish_with([&](flatbuffers::FlatBufferBuilder& fbb) {
        return dv::CreateVehicleSpeed(fbb, 0.5f * static_cast<float>(i), static_cast<double>(i));
      });
      next += period;
      std::this_thread::sleep_until(next);
    }
    say("published " + std::to_string(count));

    std::string line;
    while (std::getline(std::cin, line)) {
    }
    stop = true;
    serving.join();
    following.join();
    return 0;
  } catch (const vbus::Error& e) {
    std::cerr << "vbus-cpp-ecu: " << e.what() << " (status " << e.status() << ")\n";
    return 1;
  }
}
